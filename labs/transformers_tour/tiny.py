"""Tiny offline demo models: real transformers architectures, random weights, local tokenizers.

Every task of the tour needs a model, and a machine without internet (a workshop laptop offline, a
CI runner) cannot reach the Hugging Face hub. So for each task we build the smallest model of a real architecture
(BERT, GPT-2, BART, ViT, wav2vec2) from a config, train a tokenizer on a few dozen sentences in
milliseconds, and `save_pretrained` both into a local folder. `pipeline(task, model=folder)` and
`AutoModel*.from_pretrained(folder)` then load them exactly as they would load a hub model.

The weights are random (seeded, so runs repeat): **outputs are meaningless, the plumbing is real**.
Only the two generators are then trained for a few seconds on the 25 sentences below (the GPT-2 to
continue them, the BART to copy them), so that decoding settings visibly change something.
Everything else (tokenisation, configs, logits, generation, streaming, caching) behaves as with a
trained model, which is what the tour is about.

References: the `tokenizers` quicktour (training WordPiece and byte-level BPE from an iterator), and
transformers' own tests, which build tiny random models from configs in the same way.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

# Bumped whenever the recipe below changes, so stale folders are rebuilt instead of reused.
RECIPE_VERSION = "6"
# Small enough to build in well under a second on 2 cores, big enough to have real structure.
HIDDEN = 32  # width of every tiny model
LAYERS = 2  # transformer blocks (encoder and decoder each, for seq2seq)
HEADS = 2  # attention heads; HIDDEN must divide by it
MAX_POSITIONS = 128  # longest input the tiny models read: the tour shows truncation past it
SEED = 0  # weights are random but repeatable
LM_STEPS = 80  # the tiny GPT-2 and BART are trained this many full-batch steps (~2-5 s on one idle core)
LM_LR = 8e-3  # high, because the models are tiny and the corpus is 25 sentences

# The tokenizers learn their vocabulary from this text: the words of the shipped examples, so the
# tokenizer explorer shows whole words for them and sub-word pieces for anything else.
CORPUS = [
    "I love this movie, the actors were wonderful and the story was moving.",
    "This film was terrible; the plot made no sense and I want my money back.",
    "The food at this restaurant is delicious and the staff are friendly.",
    "Paris is the capital of France and the Eiffel Tower is in Paris.",
    "Marie Curie was born in Warsaw and worked in Paris at the Sorbonne.",
    "Hugging Face is a company based in New York and Paris.",
    "Ada Lovelace wrote the first computer program for Charles Babbage.",
    "The cat sat on the mat while the dog slept in the garden.",
    "A man is playing a guitar on the street.",
    "Someone is playing music with an instrument.",
    "The stock market fell sharply today after the bank report.",
    "The weather will be sunny tomorrow with a light wind.",
    "Transformers read text as tokens and turn them into vectors.",
    "A tokenizer splits words into pieces and maps every piece to an id.",
    "The model predicts the next token from the tokens before it.",
    "Attention lets every token look at every other token in the sentence.",
    "Once upon a time there was a little robot who wanted to learn.",
    "The quick brown fox jumps over the lazy dog.",
    "Translate English to French: the house is wonderful.",
    "Summarize: the meeting was long, but we agreed on the plan for next year.",
    "Who wrote the first computer program? Where was Marie Curie born?",
    "This is about sports, politics, science, cooking and travel.",
    "What is the capital of France? The answer is Paris.",
    "You are a helpful assistant. Hello! How are you today?",
    "numbers 0 1 2 3 4 5 6 7 8 9 10 100 2024",
]

# Labels of the tiny heads. They are names only: the heads are untrained.
SENTIMENT_LABELS = ["NEGATIVE", "POSITIVE"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]  # zero-shot needs an "entailment" label
IMAGE_LABELS = ["circle", "square", "triangle", "stripes"]
AUDIO_LABELS = ["yes", "no", "up", "down", "silence"]
IMAGE_SIZE = 32  # pixels; ViT cuts it into (32/8)^2 = 16 patches
AUDIO_RATE = 16_000  # Hz, the rate speech models are trained at

# ChatML, the template of many open chat models (SmolLM2-Instruct, Qwen): role markers as text.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Which tiny model each tour entry uses: (architecture family, model class name).
TINY_MODELS: dict[str, tuple[str, str]] = {
    "text-classification": ("bert", "BertForSequenceClassification"),
    "token-classification": ("bert", "BertForTokenClassification"),
    "fill-mask": ("bert", "BertForMaskedLM"),
    "zero-shot-classification": ("bert", "BertForSequenceClassification"),
    "feature-extraction": ("bert", "BertModel"),
    "question-answering": ("bert", "BertForQuestionAnswering"),
    "text-generation": ("gpt2", "GPT2LMHeadModel"),
    "seq2seq": ("bart", "BartForConditionalGeneration"),
    "image-classification": ("vit", "ViTForImageClassification"),
    "audio-classification": ("wav2vec2", "Wav2Vec2ForSequenceClassification"),
}

# Tiny models trained for a few seconds after building (see `_fit_briefly`); the others stay random.
TRAINED_TASKS = frozenset({"text-generation", "seq2seq"})

_build_lock = threading.Lock()


def cache_root() -> Path:
    """Folder that holds the tiny models: `$TRANSFORMERS_TOUR_CACHE`, else ~/.cache/ml_labs/..."""
    env = os.environ.get("TRANSFORMERS_TOUR_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "ml_labs" / "transformers_tour"


def wordpiece_tokenizer(vocab_size: int = 400):
    """Train a BERT-style WordPiece tokenizer on `CORPUS` and wrap it for transformers.

    Returns:
        A `PreTrainedTokenizerFast` with [CLS]/[SEP] added around every input, like BERT's.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # Lower-case and strip accents, then split on spaces and punctuation, as BERT uncased does.
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    # The post-processor adds the special tokens; `$B:1` gives the second text token_type_id 1.
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=MAX_POSITIONS,
        # BERT reads which segment each token is in (question = 0, context = 1), so return it.
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def byte_bpe_tokenizer(*, specials: list[str], vocab_size: int = 600, wrap: tuple[str, str] | None = None):
    """Train a GPT-2-style byte-level BPE tokenizer on `CORPUS`.

    Byte-level means any text (emoji, accents) encodes without an unknown token: the base alphabet
    is the 256 bytes. Spaces become part of the next token (shown as `Ġ`).

    Args:
        specials: Special tokens to reserve (they get the first ids).
        vocab_size: Target vocabulary size.
        wrap: (bos, eos) to add around every input (BART does this; GPT-2 does not).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    if wrap:
        bos, eos = wrap
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
            special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))],
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=MAX_POSITIONS)


def _bert_config(vocab_size: int, labels: list[str] | None = None):
    from transformers import BertConfig

    extra = {}
    if labels:
        extra = {"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}}
    return BertConfig(vocab_size=vocab_size, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                      num_attention_heads=HEADS, intermediate_size=HIDDEN * 2,
                      max_position_embeddings=MAX_POSITIONS, pad_token_id=0, **extra)


def _fit_briefly(model, tok, steps: int = LM_STEPS, *, copy: bool = False) -> None:
    """Train a tiny generator on `CORPUS` for a few seconds, so generation has something to show.

    Random weights repeat one token forever; after ~80 full-batch steps the causal LM has
    memorised bits of the corpus, so greedy decoding replays them and temperature/top-k/top-p
    visibly change the output. With `copy=True` (the seq2seq model) it learns to copy its input
    instead. It is still a toy: it knows 25 sentences, nothing else.
    """
    import torch

    if copy:
        batch = tok(CORPUS, padding=True, return_tensors="pt")
        # The decoder learns to write the input again; BART shifts labels right itself.
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    else:
        texts = [line + tok.eos_token for line in CORPUS]
        batch = tok(texts, padding=True, return_tensors="pt")
        # Padding positions get label -100, which the loss ignores.
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LM_LR)
    # One thread: for a model this small, thread hand-offs cost more than they save, and on a
    # shared 2-core machine two threads fighting other work made each step ~15x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        for _ in range(steps):
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.config.tiny_demo_final_loss = round(float(loss.detach()), 4)


def _build(task: str, folder: Path) -> None:
    """Build the tiny model and its preprocessor for `task` and save them into `folder`."""
    import numpy as np
    import torch
    import transformers as tf

    torch.manual_seed(SEED)
    family, class_name = TINY_MODELS[task]
    model_class = getattr(tf, class_name)
    if family == "bert":
        tok = wordpiece_tokenizer()
        labels = {"text-classification": SENTIMENT_LABELS, "token-classification": NER_LABELS,
                  "zero-shot-classification": NLI_LABELS}.get(task)
        model = model_class(_bert_config(len(tok), labels))
        tok.save_pretrained(folder)
    elif family == "gpt2":
        tok = byte_bpe_tokenizer(specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        tok.eos_token = "<|endoftext|>"
        tok.bos_token = "<|endoftext|>"
        tok.pad_token = "<|endoftext|>"
        tok.chat_template = CHAT_TEMPLATE
        eos = tok.convert_tokens_to_ids("<|endoftext|>")
        config = tf.GPT2Config(vocab_size=len(tok), n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
                               n_positions=MAX_POSITIONS, bos_token_id=eos, eos_token_id=eos,
                               pad_token_id=eos)
        model = model_class(config)
        _fit_briefly(model, tok)
        tok.save_pretrained(folder)
    elif family == "bart":
        tok = byte_bpe_tokenizer(specials=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], wrap=("<s>", "</s>"))
        tok.bos_token, tok.pad_token, tok.eos_token, tok.unk_token, tok.mask_token = (
            "<s>", "<pad>", "</s>", "<unk>", "<mask>")
        ids = {name: tok.convert_tokens_to_ids(name) for name in ("<s>", "<pad>", "</s>")}
        config = tf.BartConfig(
            vocab_size=len(tok), d_model=HIDDEN, encoder_layers=LAYERS, decoder_layers=LAYERS,
            encoder_attention_heads=HEADS, decoder_attention_heads=HEADS,
            encoder_ffn_dim=HIDDEN * 2, decoder_ffn_dim=HIDDEN * 2, max_position_embeddings=MAX_POSITIONS,
            bos_token_id=ids["<s>"], pad_token_id=ids["<pad>"], eos_token_id=ids["</s>"],
            decoder_start_token_id=ids["</s>"], forced_bos_token_id=None,
        )
        model = model_class(config)
        _fit_briefly(model, tok, copy=True)
        tok.save_pretrained(folder)
    elif family == "vit":
        config = tf.ViTConfig(image_size=IMAGE_SIZE, patch_size=8, num_channels=3, hidden_size=HIDDEN,
                              num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                              intermediate_size=HIDDEN * 2, id2label=dict(enumerate(IMAGE_LABELS)),
                              label2id={l: i for i, l in enumerate(IMAGE_LABELS)})
        model = model_class(config)
        # The image processor resizes to 32x32 and normalises pixels to [-1, 1], as ViT expects.
        # The PIL-based processor needs no torchvision (transformers 5 names it ...Pil).
        processor_class = getattr(tf, "ViTImageProcessorPil", None) or tf.ViTImageProcessor
        processor = processor_class(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                                    image_mean=[0.5] * 3, image_std=[0.5] * 3)
        processor.save_pretrained(folder)
    elif family == "wav2vec2":
        # Two small strided convolutions turn 16 kHz samples into ~100 frames a second.
        config = tf.Wav2Vec2Config(
            vocab_size=8, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            intermediate_size=HIDDEN * 2, conv_dim=(16, 16), conv_stride=(10, 16), conv_kernel=(10, 16),
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
            do_stable_layer_norm=True, feat_extract_norm="layer",
            id2label=dict(enumerate(AUDIO_LABELS)), label2id={l: i for i, l in enumerate(AUDIO_LABELS)},
        )
        model = model_class(config)
        processor = tf.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=AUDIO_RATE, padding_value=0.0,
                                                do_normalize=True, return_attention_mask=True)
        processor.save_pretrained(folder)
    else:  # pragma: no cover - TINY_MODELS and this function are edited together
        raise ValueError(f"no tiny recipe for {family}")
    model.eval()
    model.save_pretrained(folder)
    (folder / "TINY_DEMO_MODEL.json").write_text(json.dumps({
        "task": task, "class": class_name, "recipe": RECIPE_VERSION, "seed": SEED,
        "note": "random weights: outputs are meaningless, the plumbing is real",
        "numpy": np.__version__, "transformers": tf.__version__,
    }, indent=2))


def is_tiny_folder(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a folder made by `build_tiny` (any task)."""
    return (Path(path) / "TINY_DEMO_MODEL.json").is_file()


def is_built(task: str, *, root: str | os.PathLike[str] | None = None) -> bool:
    """Whether the tiny model of `task` is already built (so `build_tiny` returns at once)."""
    return (Path(root or cache_root()) / f"{task}-v{RECIPE_VERSION}" / "TINY_DEMO_MODEL.json").is_file()


def build_tiny(task: str, *, root: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Return the folder of the tiny demo model for `task`, building it first if needed.

    Args:
        task: A key of `TINY_MODELS` (e.g. ``"text-classification"``).
        root: Parent folder; defaults to `cache_root()`.
        force: Rebuild even when an up-to-date folder exists.

    Returns:
        The folder, loadable with `pipeline(task, model=str(folder))` or `AutoModel*.from_pretrained`.

    Raises:
        ValueError: For a task without a tiny recipe; the message lists the known ones.
    """
    if task not in TINY_MODELS:
        raise ValueError(f"No tiny demo model for task {task!r}. Known: {', '.join(TINY_MODELS)}.")
    folder = Path(root or cache_root()) / f"{task}-v{RECIPE_VERSION}"
    marker = folder / "TINY_DEMO_MODEL.json"
    with _build_lock:
        if marker.is_file() and not force:
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)  # the marker is written last: a half-built folder has none
        _build(task, folder)
    return folder
