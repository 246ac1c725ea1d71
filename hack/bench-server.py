"""Aggregate generation tokens/s and time to first token over concurrent streamed /v1/completions requests, through
the official `openai` client; works against our server and llama.cpp's llama-server alike (a benchmark, not a test).

  python bench-server.py measure BASE_URL MODEL MAX_TOKENS STREAMS   one JSON line: the figures at STREAMS streams
  python bench-server.py table RESULTS.jsonl                          the table (best run per server and level) and ratios

Every stream sends the same kind of prompt (plain text, which the base GGUF continues), greedy, with max_tokens
MAX_TOKENS; tokens are the completion tokens the server reports in its usage chunk (else the text chunks counted)."""
import json
import statistics
import sys
import threading
import time

from openai import OpenAI


def prompt(i):
    return f"Robot number {i} woke up in the old workshop and looked around. The first thing it saw was"


def one(client, model, max_tokens, i, out):
    t0 = time.perf_counter()
    first, tokens, chunks = None, None, 0
    stream = client.completions.create(model=model, prompt=prompt(i), max_tokens=max_tokens, temperature=0,
                                       stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].text:
            chunks += 1
            if first is None:
                first = time.perf_counter() - t0
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    out.append((first if first is not None else float("nan"), tokens if tokens is not None else chunks))


def measure(base, model, max_tokens, n):
    client = OpenAI(base_url=base, api_key="bench", max_retries=0, timeout=600)
    one(client, model, 4, 999, [])  # warm-up request, not measured
    out = []
    threads = [threading.Thread(target=one, args=(client, model, max_tokens, i, out)) for i in range(n)]
    t0 = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.perf_counter() - t0
    if len(out) != n:
        raise SystemExit(f"only {len(out)} of {n} streams finished")
    total = sum(t for _, t in out)
    ttft = [f for f, _ in out]
    return {"streams": n, "tokens": total, "wall_s": round(wall, 3), "tok_s": round(total / wall, 2),
            "ttft_median_ms": round(statistics.median(ttft) * 1000), "ttft_max_ms": round(max(ttft) * 1000)}


def table(path):
    best = {}
    for line in open(path):
        if not line.strip():
            continue
        r = json.loads(line)
        key = (r["server"], r["streams"])
        if key not in best or r["tok_s"] > best[key]["tok_s"]:
            best[key] = r
    levels = sorted({s for _, s in best})
    print("| streams | ours tok/s | llama.cpp tok/s | ratio | ours TTFT median / max | llama.cpp TTFT median / max | TTFT median ratio |")
    print("|---|---|---|---|---|---|---|")
    for n in levels:
        o, l = best.get(("ours", n)), best.get(("llama.cpp", n))
        if o is None or l is None:
            continue
        print(f"| {n} | {o['tok_s']:.1f} | {l['tok_s']:.1f} | **{o['tok_s'] / l['tok_s']:.2f}** "
              f"| {o['ttft_median_ms']} / {o['ttft_max_ms']} ms | {l['ttft_median_ms']} / {l['ttft_max_ms']} ms "
              f"| {o['ttft_median_ms'] / l['ttft_median_ms']:.2f} |")
    for (server, n), r in sorted(best.items()):
        if r.get("options"):
            print(f"best {server} x{n} ran with: {r['options']}")
    runs = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            label = r["server"] + (f" [{r['options']}]" if r.get("options") else "")
            runs.setdefault((label, r["streams"]), []).append(f"{r['tok_s']} (load {r.get('load', '?')})")
    print("\nall runs, tok/s (1-minute load average when measured):")
    for (label, n), v in sorted(runs.items()):
        print(f"  {label} x{n}: {', '.join(v)}")


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    elif sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        raise SystemExit(__doc__)
