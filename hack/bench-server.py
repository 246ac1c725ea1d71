"""Aggregate generation tokens/s and time to first token over concurrent streamed /v1/completions requests, through
the official `openai` client; works against our server and llama.cpp's llama-server alike (a benchmark, not a test).

  python bench-server.py measure BASE_URL MODEL MAX_TOKENS STREAMS   one JSON line: the figures at STREAMS streams
  python bench-server.py table RESULTS.jsonl                          the table (best run per server and level) and ratios
  python bench-server.py turns BASE_URL MODEL CONVERSATIONS            time to first token of a conversation's first
                                                                      and second turn (a ~1,500-token history)
  python bench-server.py grounded BASE_URL MODEL MAX_TOKENS RUNS       decode tokens/s of one stream on an
                                                                      input-grounded task (copying a given passage)

Every stream sends the same kind of prompt (plain text, which the base GGUF continues), greedy, with max_tokens
MAX_TOKENS; tokens are the completion tokens the server reports in its usage chunk (else the text chunks counted)."""
import json
import os
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


WORDS = ("harbour lantern wind ship rope island storm gull tide anchor sail cliff fog bell rock keeper log night"
         " morning wave salt north engine coal").split()


def history(c):
    """A keeper's log of ~1,500 tokens, different from the first line on for each conversation c."""
    lines = [f"Log book {c}: the lighthouse on the {WORDS[c % len(WORDS)]} point."]
    for day in range(1, 60):
        w = [WORDS[(c * 7 + day * k) % len(WORDS)] for k in (1, 3, 5, 11)]
        lines.append(f"Day {day}: the {w[0]} and the {w[1]} were seen at {day % 12 + 1} o'clock; {w[2]} near the {w[3]}.")
    return "\n".join(lines)


def stream_once(client, model, prompt, max_tokens):
    """(seconds to the first text, the text, prompt tokens, completion tokens) of one greedy streamed completion."""
    t0 = time.perf_counter()
    first, text, prompt_tokens, completion_tokens = None, [], None, None
    stream = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens, temperature=0, stream=True,
                                       stream_options={"include_usage": True}, extra_body={"cache_prompt": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].text:
            if first is None:
                first = time.perf_counter() - t0
            text.append(chunk.choices[0].text)
        if chunk.usage:
            prompt_tokens = chunk.usage.prompt_tokens
            completion_tokens = chunk.usage.completion_tokens
    return first if first is not None else float("nan"), "".join(text), prompt_tokens, completion_tokens


def turns(base, model, conversations):
    """Per conversation: turn 1 = history + a question; turn 2 = turn 1, its answer and a second question."""
    client = OpenAI(base_url=base, api_key="bench", max_retries=0, timeout=600)
    stream_once(client, model, "Warm-up: the keeper lit the lamp and", 4)  # not measured
    first, second, tokens = [], [], []
    for c in range(conversations):
        turn1 = history(c) + "\nQuestion: what was seen on day 7?\nAnswer:"
        t1, answer, p1, _ = stream_once(client, model, turn1, 32)
        turn2 = turn1 + answer + "\nQuestion: and on day 9?\nAnswer:"
        t2, _, p2, _ = stream_once(client, model, turn2, 32)
        first.append(t1)
        second.append(t2)
        tokens.append((p1, p2))
    return {"conversations": conversations, "prompt_tokens": tokens,
            "turn1_ttft_ms": [round(t * 1000) for t in first], "turn2_ttft_ms": [round(t * 1000) for t in second],
            "turn1_median_ms": round(statistics.median(first) * 1000),
            "turn2_median_ms": round(statistics.median(second) * 1000)}


PASSAGE = ("The committee met on Tuesday to review the budget for the new library. After a long discussion, the"
           " members agreed to fund the reading room, the children's section and the archive, but they postponed the"
           " decision on the cafe until the spring meeting. The architect presented three designs for the entrance;"
           " the second, with a glass roof and a ramp on both sides, was preferred by most of the members. Work on the"
           " foundations is to begin in March, and the building should open to the public in the autumn of next year.")


def grounded(base, model, max_tokens, runs):
    """Decode speed of one stream copying a passage it was given (prompt lookup's best case among real tasks)."""
    client = OpenAI(base_url=base, api_key="bench", max_retries=0, timeout=600)
    prompt = f"Passage:\n{PASSAGE}\n\nThe same passage, copied word for word:\n"
    stream_once(client, model, "Warm-up: the keeper lit the lamp and", 4)  # not measured
    rates, texts = [], []
    for r in range(runs):
        t0 = time.perf_counter()
        first, text, _, generated = stream_once(client, model, prompt, max_tokens)
        wall = time.perf_counter() - t0
        rates.append((generated - 1) / (wall - first))  # tokens after the first, over the time after it
        texts.append(text)
    return {"max_tokens": max_tokens, "runs": runs, "completion_tokens": generated, "decode_tok_s": [round(x, 1) for x in rates],
            "best_decode_tok_s": round(max(rates), 1), "same_text_every_run": len(set(texts)) == 1,
            "copied_chars": len(os.path.commonprefix([texts[0], PASSAGE]))}


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    elif sys.argv[1] == "table":
        table(sys.argv[2])
    elif sys.argv[1] == "turns":
        print(json.dumps(turns(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif sys.argv[1] == "grounded":
        print(json.dumps(grounded(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        raise SystemExit(__doc__)
