#!/usr/bin/env python3
"""One markdown table row from several iloc report.json files (one per face): the mean PSNR,
SSIM and LPIPS of the result and of the naive reconstruction, how many faces beat the naive
PSNR, and the mean of (result PSNR − best round's PSNR): with an ensemble, its own rounds (each
round the mean of its runs' images of that round), and, last column, the best round of its first
run alone (what one run reached; the ensemble may fall below a lucky run).

    summarize_reports.py MODEL TASK METHOD SECONDS_PER_FACE report.json...
"""
import json
import sys

model, task, method, seconds = sys.argv[1:5]
reports = [json.load(open(p)) for p in sys.argv[5:]]


def mean(key, part):
    values = [r[part].get(key) for r in reports]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


# a null PSNR is an exact match (infinite): e.g. colorizing a gray face, whose naive is exact
inf = float("inf")
psnr = lambda d: inf if d.get("psnr") is None else d["psnr"]
wins = sum(psnr(r["final"]) > psnr(r["naive"]) for r in reports)


def gaps(metrics):
    """Result PSNR − best round's PSNR per face; inf − inf (an exact round and result) is no gap."""
    g = [psnr(r["final"]) - max(psnr(metrics(k)) for k in r["rounds"]) for r in reports]
    return [x for x in g if x == x] or [0.0]


own = gaps(lambda k: k.get("ensembleMetrics") or k["metrics"])
first = gaps(lambda k: k["metrics"])
span = lambda g: f"{sum(g) / len(g):+.2f} (worst {min(g):+.2f})"
print(f"| {model} | {task} | {method} | {mean('psnr', 'final'):.2f} | {mean('ssim', 'final'):.3f} | "
      f"{mean('lpips', 'final'):.3f} | {mean('psnr', 'naive'):.2f} | {mean('ssim', 'naive'):.3f} | "
      f"{mean('lpips', 'naive'):.3f} | {wins}/{len(reports)} | {span(own)} | {float(seconds):.1f} | {span(first)} |")
