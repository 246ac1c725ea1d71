"""Aggregate generation tokens/s and time to first token at several concurrency levels, over streamed chat requests.
Usage: python bench-server.py BASE_URL MODEL [max_tokens] [levels...]   (a benchmark, not a test)"""
import statistics
import sys
import threading
import time

from openai import OpenAI

base, model = sys.argv[1], sys.argv[2]
max_tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 64
levels = [int(x) for x in sys.argv[4:]] or [1, 4, 16]
client = OpenAI(base_url=base, api_key="bench", max_retries=0, timeout=600)


def one(i, out):
    t0 = time.perf_counter()
    first, tokens = None, 0
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"Write a short story about a robot, number {i}."}],
        max_tokens=max_tokens, temperature=0.8, seed=i, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    out.append((first or 0.0, tokens))


for n in levels:
    out = []
    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i, out)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.perf_counter() - t0
    total = sum(t for _, t in out)
    ttft = [f for f, _ in out]
    print(f"concurrency {n:3d}: {total} tokens in {wall:6.2f} s = {total / wall:7.1f} tok/s aggregate; "
          f"TTFT median {statistics.median(ttft) * 1000:7.0f} ms, max {max(ttft) * 1000:7.0f} ms")
