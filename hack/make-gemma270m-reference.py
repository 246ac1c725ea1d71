#!/usr/bin/env python3
"""An independent float32 (and float64) reference for the real Gemma 3 270M GGUF, from Hugging Face transformers.

transformers loads the GGUF itself (its GGUF loader dequantizes every tensor with the gguf package, undoes the +1
that the converters bake into Gemma's norm weights, and maps the metadata onto Gemma3TextConfig), then runs its own
PyTorch Gemma 3 forward pass with eager attention. Nothing here shares code with our Java engine or with llama.cpp's
matrix kernels: the weights are the same dequantized numbers, everything after that is transformers.

For each chat-templated prompt of Gemma270mPrompts (their token ids, and llama.cpp's greedy continuations, are
read from the committed llama.cpp fixture, which Gemma270mVsLlamaCppTest checks against our own tokenizer), it records:
  - greedy: the float32 greedy continuation, 64 tokens (transformers' KV cache), and the top-2 ids and logits of
    every step of it from one pass without a cache over the whole sequence (to tell near-ties; a step where the
    two passes pick differently is printed);
  - greedyF64: the same in float64 (the model cast to double), the arbiter where float32 rounding decides a tie
    (REF_F64=0 skips the float64 runs, which double the time: their fields are then null);
  - top5 of the first step;
  - firstStep: logits (float32 and float64) of the first step for the 256 ids with the highest float32 logit plus 64
    seeded random ids;
  - llamaCpp: teacher-forced on llama.cpp's greedy tokens (from the fixture), at each step the float32 and float64
    logit of llama.cpp's token and of the reference's own top-1 there.

Usage: hack/make-gemma270m-reference.sh  (creates $GEMMA_CACHE/venv-hf with torch + transformers, then runs this)
Output: runtime-image/engine/src/test/resources/fixtures/gemma3-270m-hf-reference.json (a few tens of KB)
"""
import json
import os
import sys
import time

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM

N = 64
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "runtime-image", "engine", "src", "test", "resources", "fixtures")
LLAMA_FIXTURES = os.path.join(HERE, "..", "runtime-image", "bench", "src", "test", "resources", "fixtures")


def r(x):
    return float(round(float(x), 5))


def logits_all(model, ids, dtype):
    """Logits of every position of the token sequence ids (one pass, no cache), as a numpy array [len, vocab]."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), use_cache=False)
    return out.logits[0].to(torch.float64).numpy()


def greedy(model, prompt, dtype):
    """Greedy decoding with transformers' own KV cache; then one pass without a cache over the whole sequence must
    pick the same tokens (a check of the cache path, and the source of the recorded top-2)."""
    toks = []
    with torch.no_grad():
        out = model(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)
        for _ in range(N):
            tok = int(torch.argmax(out.logits[0, -1]))
            toks.append(tok)
            out = model(input_ids=torch.tensor([[tok]]), past_key_values=out.past_key_values, use_cache=True)
    full = logits_all(model, list(prompt) + toks[:-1], dtype)[len(prompt) - 1:]
    top2 = []
    for t in range(N):
        order = np.argsort(-full[t], kind="stable")[:2]
        if int(order[0]) != toks[t]:
            print("  note: step %d, cached pass picked %d, full pass %d (gap %.4f)"
                  % (t, toks[t], order[0], full[t][order[0]] - full[t][toks[t]]), file=sys.stderr)
        top2.append({"ids": [int(order[0]), int(order[1])], "logits": [r(full[t][order[0]]), r(full[t][order[1]])]})
    return toks, top2


def main():
    gguf_path = os.environ.get("GEMMA_270M_GGUF") or sys.argv[1]
    out_path = os.path.join(FIXTURES, "gemma3-270m-hf-reference.json")
    llama = json.load(open(os.path.join(LLAMA_FIXTURES, "gemma3-270m-llama-cpp.json")))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path),
                                                 dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = model.config
    print("loaded %s in %.1f s: %s" % (type(model).__name__, time.time() - t0, cfg), file=sys.stderr)

    # The settings that matter, checked against what the GGUF's metadata and the model card say for the 270M.
    text_cfg = getattr(cfg, "text_config", cfg)
    facts = {k: getattr(text_cfg, k, None) for k in (
        "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
        "intermediate_size", "vocab_size", "sliding_window", "rope_theta", "rope_local_base_freq", "rope_scaling",
        "query_pre_attn_scalar", "rms_norm_eps", "hidden_activation", "final_logit_softcapping",
        "attn_logit_softcapping", "layer_types", "rope_parameters")}
    print(json.dumps(facts, default=str, indent=1), file=sys.stderr)

    # float64 doubles the run time on two cores: REF_F64=0 skips it (its fields are then null).
    with_f64 = os.environ.get("REF_F64", "1") != "0"
    model64 = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path),
                                                   dtype=torch.float32, attn_implementation="eager").double().eval() \
        if with_f64 else None

    rng = np.random.default_rng(270)
    cases = []
    for case in llama["cases"]:
        prompt = case["promptTokens"]
        t0 = time.time()
        toks, top2 = greedy(model, prompt, torch.float32)
        toks64, top2_64 = greedy(model64, prompt, torch.float64) if with_f64 else (None, None)
        first = logits_all(model, prompt, torch.float32)[-1]
        first64 = logits_all(model64, prompt, torch.float64)[-1] if with_f64 else first * np.nan
        top = np.argsort(-first, kind="stable")
        chosen = [int(i) for i in top[:256]]
        extra = [int(i) for i in rng.choice(first.shape[0], size=96, replace=False) if int(i) not in chosen][:64]
        chosen += extra

        # Teacher forcing on llama.cpp's tokens: step t's logits come from position len(prompt) - 1 + t.
        lc = case["greedy"]
        tf = logits_all(model, prompt + lc[:-1], torch.float32)[len(prompt) - 1:]
        tf64 = logits_all(model64, prompt + lc[:-1], torch.float64)[len(prompt) - 1:] if with_f64 else tf * np.nan
        steps = []
        for t in range(N):
            best = int(np.argmax(tf[t]))
            step = {"llamaCpp": lc[t], "top1": best, "gap": r(tf[t][best] - tf[t][lc[t]])}
            if with_f64:
                best64 = int(np.argmax(tf64[t]))
                step.update({"top1F64": best64, "gapF64": r(tf64[t][best64] - tf64[t][lc[t]])})
            steps.append(step)

        d = np.abs(first - first64)
        print("prompt %r: %.1f s; f32 vs f64 first step max|d| %.2e; greedy f32==f64: %s; f32==llama.cpp: %s"
              % (case["prompt"], time.time() - t0, d.max(), toks == toks64, toks == lc), file=sys.stderr)
        for t in range(N):
            if lc[t] != toks[t]:
                print("  llama.cpp parts from the f32 reference at token %d: ref %d, llama.cpp %d; ref gap %s (f64 %s)"
                      % (t, toks[t], lc[t], steps[t]["gap"], steps[t].get("gapF64")), file=sys.stderr)
                break
        cases.append({
            "prompt": case["prompt"],
            "promptTokens": prompt,
            "greedy": toks,
            "greedyTop2": top2,
            "greedyF64": toks64,
            "greedyF64Top2": top2_64,
            "top5": [int(i) for i in top[:5]],
            "firstStep": {"ids": chosen, "f32": [r(first[i]) for i in chosen],
                          "f64": [r(first64[i]) for i in chosen] if with_f64 else None,
                          "maxAbsDiffF32VsF64AllVocab": float("%.3e" % d.max()) if with_f64 else None},
            "llamaCppTeacherForced": steps,
        })

    root = {
        "generator": "hack/make-gemma270m-reference.py: transformers %s, torch %s, gguf file %s, eager attention" % (transformers.__version__, torch.__version__, os.path.basename(gguf_path)),
        "config": {k: v for k, v in facts.items() if k != "layer_types"},
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(root, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
