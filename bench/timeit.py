#!/usr/bin/env python3
"""Runs a command N times (default 3) with stdout discarded and prints the best wall time and the
best CPU time (user + sys of the child) in seconds. CPU time is the per-core cost and stays
meaningful when other work shares the machine; wall time is what a user waits."""
import os, resource, subprocess, sys, time

def main():
    n = 3
    args = sys.argv[1:]
    if args[:1] == ["-n"]:
        n, args = int(args[1]), args[2:]
    best_wall = best_cpu = float("inf")
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    print(f"{best_wall:.4f} {best_cpu:.4f}")

if __name__ == "__main__":
    main()
