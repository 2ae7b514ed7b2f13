"""The baseline for `cargo xtask bench llm --models 0.5b` on a GPU: the same
measurements with transformers and peft, on the same device, same shapes.

    python3 gpu/llm_transformers.py [--tokens 64] [--prompt 512] [--out DIR]

A random-weight Qwen2 model of Qwen2.5-0.5B's shape (bf16), a 512-token
prompt, completions that never stop early (no end-of-sequence token), sampled
at temperature 1: prefill tokens/s (one new token), decode tokens/s with 1, 4
and 16 completions sampled together (tokens over the time after the prefill,
as the Rust bench counts them), then LoRA rank 32 (alpha 32) on every
attention and MLP projection: the 16 completions sampled again with the
adapters, and two training steps of the importance-sampling policy gradient
(the loss of discover's trainer at clip off, KL off: -advantage x logprob of
each completion token, mean over tokens; Adam at 4e-5, betas 0.9/0.95) in
micro-batches of at most 8192 tokens, as discover's trainer takes them.
"""

import argparse
import json
import os
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import transformers
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=8192,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).to(device="cuda", dtype=torch.bfloat16).eval()
    params = sum(p.numel() for p in model.parameters())
    prompt = torch.tensor([[(i * 7919) % 256 for i in range(args.prompt)]], device="cuda")
    report = {"transformers": transformers.__version__, "torch": torch.__version__, "parameters": params}
    print("transformers %s, torch %s; Qwen2 0.5b shape, %d parameters, bf16; %d-token prompt, %d new tokens"
          % (transformers.__version__, torch.__version__, params, args.prompt, args.tokens))

    def sample(rows, new):
        ids = prompt.repeat(rows, 1)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0, top_p=1.0,
                                 top_k=0, max_new_tokens=new, min_new_tokens=new, eos_token_id=None, pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - t0, out[:, args.prompt:]

    sample(1, 4)  # warm-up
    prefill, _ = sample(1, 1)
    report["prefill_tokens_per_s"] = args.prompt / prefill
    print("  prefill            %10.0f tokens/s" % (args.prompt / prefill))
    base = None
    report["decode"] = {}
    for rows in (1, 4, 16):
        secs, out = sample(rows, args.tokens)
        assert out.shape == (rows, args.tokens)
        rate = rows * args.tokens / max(secs - prefill, 1e-9)
        base = base or rate
        report["decode"][rows] = rate
        print("  decode, %2d at once  %10.0f tokens/s  (%.2fx one alone)" % (rows, rate, rate / base))
        without = secs

    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=32, lora_alpha=32, lora_dropout=0.0, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lora)
    sampling, completions = sample(16, args.tokens)
    report["lora_sampling_s"] = sampling
    report["sampling_without_s"] = without
    print("  sampling 16 x %d with LoRA r32 attached  %.2f s  (%.2fx the same without adapters, %.2f s)"
          % (args.tokens, sampling, sampling / without, without))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    adam = torch.optim.Adam(trainable, lr=4e-5, betas=(0.9, 0.95), eps=1e-8)
    ids = torch.cat([prompt.repeat(16, 1), completions], dim=1)
    advantages = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(16)], device="cuda")
    per_batch = max(1, 8192 // ids.shape[1])
    report["train"] = []
    for which in ("first", "second"):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        adam.zero_grad()
        count = 16 * args.tokens
        for start in range(0, 16, per_batch):
            batch = ids[start:start + per_batch]
            logits = model(input_ids=batch).logits[:, args.prompt - 1:-1].float()
            logprobs = torch.log_softmax(logits, dim=-1).gather(-1, batch[:, args.prompt:, None]).squeeze(-1)
            loss = -(advantages[start:start + per_batch, None] * logprobs).sum() / count
            loss.backward()
        adam.step()
        torch.cuda.synchronize()
        secs = time.perf_counter() - t0
        report["train"].append(secs)
        print("  train step, %s (16 x %d, LoRA r32, %d params, %d micro-batches)  %6.0f tokens/s  %.2f s (%.2fx the sampling time)"
              % (which, args.tokens, sum(p.numel() for p in trainable), (16 + per_batch - 1) // per_batch, count / secs,
                 secs, secs / sampling))
    if args.out:
        with open(os.path.join(args.out, "llm_transformers.json"), "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
