#!/usr/bin/env python3
"""Summarises demo runs (metrics.json of each run directory given) as the Markdown tables of docs/results.md:
per-seed stage metrics, mean and spread (max - min) per stage, RS - SFT and PPO - RS gains, RM accuracy."""
import json
import sys

KEYS = ["gold_helpfulness", "safety_violation_rate", "over_refusal_rate", "kl_to_sft", "eos_rate", "truncated_rate"]

runs = []
for d in sys.argv[1:]:
    with open(f"{d}/metrics.json") as f:
        runs.append(json.load(f))

for key in ["base_seed", "split_seed"]:
    seeds = sorted({str(r.get(key, "= seed")) for r in runs})  # absent: runs made before the key, drawn from the seed
    print(f"{key}: {', '.join(seeds)}")
print()
print("| seed | stage | " + " | ".join(KEYS) + " |")
print("|---|---|" + "---|" * len(KEYS))
for r in runs:
    for stage, m in r["stages"].items():
        print(f"| {r['seed']} | {stage} | " + " | ".join(f"{m[k]:.3f}" if k in m else "-" for k in KEYS) + " |")

print()
print("| stage | " + " | ".join(f"{k} mean (spread)" for k in KEYS) + " |")
print("|---|" + "---|" * len(KEYS))
for stage in runs[0]["stages"]:
    cells = []
    for k in KEYS:
        v = [r["stages"][stage][k] for r in runs if k in r["stages"][stage]]
        if not v:
            cells.append("-")
            continue
        cells.append(f"{sum(v) / len(v):.3f} ({max(v) - min(v):.3f})")
    print(f"| {stage} | " + " | ".join(cells) + " |")

print()
# Paired gains: each seed's stage against the same seed's SFT, graded on the same held-out prompts.
for b in [s for s in runs[0]["stages"] if s != "sft"]:
    g = [r["stages"][b]["gold_helpfulness"] - r["stages"]["sft"]["gold_helpfulness"] for r in runs]
    mean = sum(g) / len(g)
    se = (sum((x - mean) ** 2 for x in g) / (len(g) - 1)) ** 0.5 / len(g) ** 0.5 if len(g) > 1 else float("nan")
    extra = ""
    if b in runs[0] and "sampled_tokens" in runs[0][b]:
        extra = "; sampled tokens " + ", ".join(str(r[b]["sampled_tokens"]) for r in runs) \
                + "; kept iteration " + ", ".join(str(r[b]["best_iteration"]) for r in runs) \
                + " (selected by " + runs[0][b].get("selected_by", "?") + ")"
    print(f"- paired gain in gold helpfulness {b} - sft per seed: " + ", ".join(f"{x:+.3f}" for x in g)
          + f"; mean {mean:+.3f} +- {se:.3f} (standard error){extra}")
for a, b in [("sft", "rs"), ("rs", "ppo")]:
    g = [r["stages"][b]["gold_helpfulness"] - r["stages"][a]["gold_helpfulness"] for r in runs]
    print(f"- gold helpfulness {b} - {a} per seed: " + ", ".join(f"{x:+.3f}" for x in g)
          + f"; min {min(g):+.3f}")
spreads = {s: max(r["stages"][s]["gold_helpfulness"] for r in runs) - min(r["stages"][s]["gold_helpfulness"]
                                                                         for r in runs) for s in runs[0]["stages"]}
print("- seed-to-seed spread of gold helpfulness per stage: "
      + ", ".join(f"{s} {v:.3f}" for s, v in spreads.items()))

print()
print("| seed | RM | accuracy | significantly_better | better | slightly_better | unsure | unsafe recall |")
print("|---|---|---|---|---|---|---|---|")
for r in runs:
    for name, o in r["reward_models"].items():
        by = o["accuracy_by_rating"]
        cells = [f"{by[k]:.3f}" if k in by else "-" for k in
                 ["significantly_better", "better", "slightly_better", "negligibly_better_or_unsure"]]
        rec = f"{o['unsafe_recall']:.3f}" if "unsafe_recall" in o else ""
        print(f"| {r['seed']} | {name} | {o['accuracy']:.3f} | " + " | ".join(cells) + f" | {rec} |")
print()
print("seconds per run:", ", ".join(f"{sum(r['stage_seconds'].values()):.0f}" for r in runs))

# Gold helpfulness per prompt family, from the graded samples of each stage.
print()
families = None
rows = []
for d, r in zip(sys.argv[1:], runs):
    for stage in r["stages"]:
        sums, counts = {}, {}
        with open(f"{d}/samples-{stage}.jsonl") as f:
            for line in f:
                o = json.loads(line)
                sums[o["family"]] = sums.get(o["family"], 0) + o["gold_helpfulness"]
                counts[o["family"]] = counts.get(o["family"], 0) + 1
        families = families or sorted(sums)
        rows.append(f"| {r['seed']} | {stage} | " + " | ".join(f"{sums[k] / counts[k]:.2f}" for k in families) + " |")
print("| seed | stage | " + " | ".join(families) + " |")
print("|---|---|" + "---|" * len(families))
print("\n".join(rows))
print()
print("| seed | RS best-sample gold | on RS training prompts: SFT -> RS | PPO best iteration |")
print("|---|---|---|---|")
for r in runs:
    t = r["stages_on_training_prompts"]
    print(f"| {r['seed']} | {r['rs_best_samples_gold_helpfulness']:.3f} | {t['sft']['gold_helpfulness']:.3f} -> "
          f"{t['rs']['gold_helpfulness']:.3f} | {r['ppo']['best_iteration']} |")
