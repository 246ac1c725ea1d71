#!/usr/bin/env python3
"""Makes the tiny random Gemma 1, 2 and 3 checkpoints and their golden logits (run by hand, not in CI).

For each generation: a Hugging Face transformers model with random weights (seeded), saved as a safetensors
directory (bf16 weights + config.json + a small tokenizer.json), the golden logits of every position of a few
prompts (token id lists) computed by transformers in float32 with eager attention, and GGUF conversions written
with the gguf package the way llama.cpp's convert_hf_to_gguf.py writes Gemma (norm weights get +1 baked in,
no Q/K permutation: Gemma uses NeoX RoPE). Gemma 1 and 2 get F32 GGUFs, Gemma 3 gets F16 and Q8_0 GGUFs; for Q8_0 the golden logits
are recomputed by transformers on the dequantized Q8_0 weights, so the test checks our Q8_0 kernels tightly.

Usage: hack/make-tiny-gemma.sh  (creates $GEMMA_CACHE/venv-hf with torch + transformers, then runs this)
Output: runtime-image/engine/src/test/resources/fixtures/tiny-gemma{1,2,3}/ and tiny-gemma*.gguf
"""
import json
import os
import sys

import numpy as np
import torch
import gguf
from safetensors.torch import save_file
from tokenizers import Tokenizer, AddedToken, models, normalizers, decoders
import transformers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime-image", "engine", "src", "test",
                   "resources", "fixtures")

# --- a small SentencePiece-style BPE vocabulary with byte fallback, Gemma's special tokens first --------------
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
BYTES = ["<0x%02X>" % b for b in range(256)]
CHARS = ["\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + [".", ",", "\n"]
MERGED = ["\u2581t", "\u2581th", "\u2581the", "\u2581a", "\u2581an", "\u2581and", "in", "ing", "er", "he", "re", "on",
          "\u2581m", "\u2581mo", "\u2581mod", "\u2581mode", "\u2581model", "\u2581u", "\u2581us", "\u2581use", "\u2581user"]
VOCAB = SPECIALS + BYTES + CHARS + MERGED


def write_tokenizer_json(path):
    vocab = {t: i for i, t in enumerate(VOCAB)}
    merges = []
    for t in MERGED:  # each merged token = (longest known prefix, rest), in vocabulary order = merge rank
        for cut in range(len(t) - 1, 0, -1):
            if t[:cut] in vocab and t[cut:] in vocab:
                merges.append((t[:cut], t[cut:]))
                break
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    tok.save(path)


def gguf_vocab(w):
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(VOCAB)
    scores, types = [], []
    for i, t in enumerate(VOCAB):
        if t in SPECIALS:
            types.append(gguf.TokenType.UNKNOWN if t == "<unk>" else gguf.TokenType.CONTROL)
            scores.append(0.0)
        elif t in BYTES:
            types.append(gguf.TokenType.BYTE)
            scores.append(0.0)
        else:
            types.append(gguf.TokenType.NORMAL)
            scores.append(-float(i))  # SentencePiece scores: later pieces merge later
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(2)
    w.add_eos_token_id(1)
    w.add_unk_token_id(3)
    w.add_pad_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)


# --- the three tiny models ----------------------------------------------------------------------------------
COMMON = dict(vocab_size=len(VOCAB), hidden_size=64, intermediate_size=128, num_attention_heads=4,
              num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-6, max_position_embeddings=256,
              hidden_activation="gelu_pytorch_tanh", pad_token_id=0, bos_token_id=2, eos_token_id=1,
              tie_word_embeddings=True)

MODELS = {
    "gemma1": (transformers.GemmaConfig, transformers.GemmaForCausalLM, "gemma",
               dict(num_hidden_layers=2, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "gemma2": (transformers.Gemma2Config, transformers.Gemma2ForCausalLM, "gemma2",
               dict(num_hidden_layers=4, sliding_window=4, query_pre_attn_scalar=32,
                    attn_logit_softcapping=5.0, final_logit_softcapping=10.0,
                    rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "gemma3": (transformers.Gemma3TextConfig, transformers.Gemma3ForCausalLM, "gemma3",
               dict(num_hidden_layers=6, sliding_window=4, query_pre_attn_scalar=32,
                    rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})),
}

# Token id prompts: 12 tokens (> window 4, so sliding matters), and two shorter ones.
rng = np.random.default_rng(1234)
PROMPTS = [[2] + rng.integers(6, len(VOCAB), size=11).tolist(),
           [2] + rng.integers(6, len(VOCAB), size=6).tolist(),
           [2, 4] + rng.integers(6, len(VOCAB), size=7).tolist()]


def golden(model):
    out = []
    with torch.no_grad():
        for p in PROMPTS:
            logits = model(torch.tensor([p])).logits[0].float().numpy()  # [len x vocab]
            out.append([[float("%.6g" % v) for v in row] for row in logits])
    return out


def hf_to_gguf_name(name, arch):
    n = name.removeprefix("model.")
    if n == "embed_tokens.weight":
        return "token_embd.weight"
    if n == "norm.weight":
        return "output_norm.weight"
    parts = n.split(".")  # layers.N.<module>.<sub>.weight
    i, rest = parts[1], ".".join(parts[2:])
    table = {
        "input_layernorm.weight": "attn_norm",
        "self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
        "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
        "self_attn.q_norm.weight": "attn_q_norm", "self_attn.k_norm.weight": "attn_k_norm",
        "mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up", "mlp.down_proj.weight": "ffn_down",
        "pre_feedforward_layernorm.weight": "ffn_norm",
        "post_feedforward_layernorm.weight": "post_ffw_norm",
        # Gemma 1 calls its pre-FFN norm post_attention_layernorm; Gemma 2/3 use that name for the post-attention norm.
        "post_attention_layernorm.weight": "ffn_norm" if arch == "gemma" else "post_attention_norm",
    }
    return "blk.%s.%s.weight" % (i, table[rest])


def write_gguf(path, arch, cfg, state, qtype):
    w = gguf.GGUFWriter(path, arch)
    w.add_name("tiny-" + arch)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_key_length(cfg.head_dim)
    w.add_value_length(cfg.head_dim)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    if arch == "gemma2":
        w.add_sliding_window(cfg.sliding_window)
        w.add_attn_logit_softcapping(cfg.attn_logit_softcapping)
        w.add_final_logit_softcapping(cfg.final_logit_softcapping)
    if arch == "gemma3":
        w.add_sliding_window(cfg.sliding_window)
        full = cfg.rope_parameters["full_attention"]
        w.add_rope_freq_base(full["rope_theta"])
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(full["factor"])
    else:
        w.add_rope_freq_base(10000.0)
    gguf_vocab(w)
    for name, t in state.items():
        data = t.float().numpy()
        gname = hf_to_gguf_name(name, arch)
        if gname.endswith("norm.weight"):
            w.add_tensor(gname, (data + 1.0).astype(np.float32))  # +1 baked in, as llama.cpp's converter does
        elif qtype == "f32":
            w.add_tensor(gname, data.astype(np.float32))
        elif qtype == "f16":
            w.add_tensor(gname, data.astype(np.float16))
        else:
            q = gguf.quants.quantize(data.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(gname, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    for key, (cfg_cls, model_cls, arch, extra) in MODELS.items():
        torch.manual_seed({"gemma1": 1, "gemma2": 2, "gemma3": 3}[key])
        cfg = cfg_cls(**COMMON, **extra)
        cfg._attn_implementation = "eager"
        model = model_cls(cfg).eval()
        with torch.no_grad():  # weights large enough that every part of the block moves the logits
            for name, p in model.named_parameters():
                p.normal_(0.0, 0.3 if p.dim() == 1 else 0.25)
            # The weights we save are bf16: compute goldens from those. Round the parameters only: model.to(bf16)
            # would also round buffers such as RoPE's inv_freq, which no real run does.
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).float())
        d = os.path.join(OUT, "tiny-" + key)
        os.makedirs(d, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, os.path.join(d, "model.safetensors"),
                  metadata={"format": "pt"})
        cfg.to_json_file(os.path.join(d, "config.json"))
        write_tokenizer_json(os.path.join(d, "tokenizer.json"))
        g = {"generator": "transformers %s, torch %s, float32, eager attention" % (transformers.__version__, torch.__version__),
             "prompts": PROMPTS, "logits": golden(model)}
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump(g, f, separators=(",", ":"))
        if key != "gemma3":  # Gemma 3 gets F16 (exact for bf16 weights of this range) and Q8_0 instead, to stay small
            write_gguf(os.path.join(OUT, "tiny-%s-f32.gguf" % key), arch, cfg, state, "f32")
        if key == "gemma3":
            write_gguf(os.path.join(OUT, "tiny-gemma3-f16.gguf"), arch, cfg, state, "f16")
            write_gguf(os.path.join(OUT, "tiny-gemma3-q8_0.gguf"), arch, cfg, state, "q8_0")
            # Goldens for the Q8_0 file: the same model with every 2-D weight replaced by its Q8_0 round trip.
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if p.dim() == 2:
                        q = gguf.quants.quantize(p.numpy().astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
                        p.copy_(torch.from_numpy(gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0)))
            gq = {"generator": g["generator"] + ", weights = Q8_0 round trip", "prompts": PROMPTS,
                  "logits": golden(model)}
            with open(os.path.join(d, "golden-q8_0.json"), "w") as f:
                json.dump(gq, f, separators=(",", ":"))
        lg = np.array(g["logits"][0])
        print("%s: %d params, logits of prompt 0: std %.3f, max |x| %.3f" %
              (key, sum(p.numel() for p in model.parameters()), lg.std(), np.abs(lg).max()))


if __name__ == "__main__":
    sys.exit(main())
