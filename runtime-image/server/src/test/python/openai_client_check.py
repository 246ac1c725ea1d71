"""Drives the server with the official `openai` Python package; prints one JSON line of what it saw.

Usage: python openai_client_check.py BASE_URL API_KEY MODEL
Exit 0 when every check passed, 1 with the failed check on stderr otherwise.
"""
import json
import sys

from openai import OpenAI


def main():
    base_url, api_key, model = sys.argv[1:4]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)
    seen = {}

    models = [m.id for m in client.models.list()]
    assert model in models, f"models.list() gave {models}"
    seen["models"] = models

    chat = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8, temperature=0, seed=7)
    assert chat.choices[0].finish_reason in ("stop", "length"), chat
    assert chat.usage.prompt_tokens > 0 and chat.usage.completion_tokens > 0, chat.usage
    assert chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens
    seen["chat"] = chat.choices[0].message.content

    text, usage, finish = [], None, None
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8, temperature=0, seed=7,
        stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            if c.delta.content:
                text.append(c.delta.content)
            if c.finish_reason:
                finish = c.finish_reason
    assert usage is not None and usage.completion_tokens == chat.usage.completion_tokens, usage
    assert finish == chat.choices[0].finish_reason, finish
    # greedy: the stream says exactly what the plain answer said
    assert "".join(text) == seen["chat"], ("".join(text), seen["chat"])
    seen["stream"] = "".join(text)

    comp = client.completions.create(model=model, prompt="The sky is", max_tokens=5, temperature=0, logprobs=2)
    assert comp.usage.completion_tokens == len(comp.choices[0].logprobs.tokens), comp
    seen["completion"] = comp.choices[0].text

    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], temperature=-1)
        raise AssertionError("temperature -1 was accepted")
    except Exception as e:  # openai.BadRequestError
        assert getattr(e, "status_code", None) == 400, repr(e)
        seen["error"] = e.body
    print(json.dumps(seen))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"check failed: {e}", file=sys.stderr)
        sys.exit(1)
