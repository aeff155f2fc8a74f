"""Score a base model and a fine-tuned adapter on a held-out data file: exact match and mean loss.

    from training.evaluate import evaluate
    report = evaluate(Path("model-cache/HuggingFaceTB--SmolLM2-135M-Instruct"),
                      Path("runs/r1/adapter"), Path("eval.jsonl"))
    print(report.base.exact_match, report.adapter.exact_match)

The data file is in any training format (`training.spec.dataset`), or holds preference pairs
(`training.spec.preference_data`): then each model is scored on its preference accuracy, the share
of pairs where the log-probability of the chosen answer (summed over its tokens, given the prompt,
as DPO counts it) exceeds the rejected one's, and the mean margin between the two; the mean loss
is the cross-entropy of the chosen answers. For `messages` rows the prompt is
every message but the last, rendered through the model's chat template, and the reference is the
last (assistant) message; for `prompt_completion` rows the prompt and completion are plain text.
Answers are generated greedily and compared after trimming whitespace, case and a trailing period
(`normalize`). The mean loss is the cross-entropy per reference token with teacher forcing, the
quantity training minimises; `text` and `template` rows have no reference, so only their loss (over
every token) is reported. torch, transformers and peft are imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from training.spec import dataset, preference_data
from training.spec.config import DataSection
from training.spec.errors import UserError

SAMPLES_KEPT = 5
MAX_NEW_TOKENS_CAP = 256
Progress = Callable[[str, int, int], None]  # (model label, examples done, total)


Answer = str | list[dict[str, str]]  # text, or assistant messages (conversational pairs)


@dataclass(frozen=True)
class EvalExample:
    line: int
    prompt: list[dict[str, str]] | str | None  # chat messages, plain text, or None (text rows)
    reference: Answer  # the answer to match (pairs: chosen); for text rows, the whole text (loss)
    rejected: Answer | None = None  # preference pairs only


@dataclass(frozen=True)
class Sample:
    prompt: str
    reference: str
    prediction: str
    correct: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "reference": self.reference,
            "prediction": self.prediction,
            "correct": self.correct,
        }


@dataclass(frozen=True)
class ModelScore:
    label: str  # "base" or "fine-tuned"
    examples: int
    correct: int | None  # None when the data has no reference answers
    mean_loss: float
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    preferred: int | None = None  # pairs where logp(chosen) > logp(rejected); None: not pairs
    mean_margin: float | None = None  # mean of logp(chosen) - logp(rejected), in nats

    @property
    def exact_match(self) -> float | None:
        if self.correct is None or self.examples == 0:
            return None
        return self.correct / self.examples

    @property
    def preference_accuracy(self) -> float | None:
        if self.preferred is None or self.examples == 0:
            return None
        return self.preferred / self.examples

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "examples": self.examples,
            "correct": self.correct,
            "exact_match": self.exact_match,
            "mean_loss": round(self.mean_loss, 4),
            "preferred": self.preferred,
            "preference_accuracy": self.preference_accuracy,
            "mean_margin": None if self.mean_margin is None else round(self.mean_margin, 4),
            "seconds": round(self.seconds, 1),
            "samples": [s.to_dict() for s in self.samples],
        }


@dataclass(frozen=True)
class EvalReport:
    data_file: Path
    format: str
    base_model: str
    adapter: str | None
    base: ModelScore
    tuned: ModelScore | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_file": str(self.data_file),
            "format": self.format,
            "base_model": self.base_model,
            "adapter": self.adapter,
            "base": self.base.to_dict(),
            "fine_tuned": self.tuned.to_dict() if self.tuned else None,
        }


class EvalDataError(UserError, ValueError):
    """The eval file cannot be used; the message names the file and the lines."""


def normalize(text: str) -> str:
    """What exact match compares: trimmed, case-folded, inner whitespace collapsed, no final '.'."""
    return " ".join(text.split()).casefold().rstrip(".").strip()


def load_examples(path: Path, data: DataSection | None = None) -> tuple[str, list[EvalExample]]:
    """The eval examples of `path` and its format; raises EvalDataError listing bad lines."""
    data = data or DataSection()
    rows, _ = dataset.read_rows(path)
    first = next((row for _, row in rows if isinstance(row, dict)), None)
    if preference_data.looks_like_pairs(first):
        check = preference_data.check_file(path)
    else:
        check = dataset.check_file(path, data)
    if check.errors:
        shown = "; ".join(
            f"line {p.line}: {p.message}" if p.line else p.message for p in check.errors[:5]
        )
        more = len(check.errors) - 5
        raise EvalDataError(f"{path}: {shown}" + (f" (and {more} more)" if more > 0 else ""))
    fmt = check.format or "text"
    examples = []
    for line, example in check.examples:
        if fmt in preference_data.FORMATS:
            examples.append(
                EvalExample(line, example["prompt"], example["chosen"], example["rejected"])
            )
        elif fmt == "messages":
            messages = example["messages"]
            examples.append(EvalExample(line, messages[:-1], messages[-1]["content"]))
        elif fmt == "prompt_completion":
            examples.append(EvalExample(line, example["prompt"], example["completion"]))
        else:
            examples.append(EvalExample(line, None, example["text"]))
    return fmt, examples


def evaluate(
    base_model: Path,
    adapter: Path | None,
    data_file: Path,
    *,
    data: DataSection | None = None,
    max_examples: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    num_threads: int | None = None,
    on_progress: Progress | None = None,
) -> EvalReport:
    """Score the base model, then the base with `adapter` (when given), on the same examples."""
    fmt, examples = load_examples(data_file, data)
    if max_examples is not None:
        examples = examples[:max_examples]
    if not examples:
        raise EvalDataError(f"{data_file}: no examples to evaluate")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if num_threads:
        torch.set_num_threads(num_threads)
    from training.hardware import model_dtype

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = model_dtype(device)  # fp16 on a T4: its bf16 is emulated
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype).to(device)
    model.eval()
    scorer = _Scorer(tokenizer, device, batch_size, max_new_tokens, on_progress)
    base = scorer.score(model, examples, "base")
    tuned = None
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).to(device)
        model.eval()
        tuned = scorer.score(model, examples, "fine-tuned")
    return EvalReport(
        data_file=data_file,
        format=fmt,
        base_model=str(base_model),
        adapter=str(adapter) if adapter else None,
        base=base,
        tuned=tuned,
    )


class _Scorer:
    """Turns examples into token ids once, then scores any model on them."""

    def __init__(
        self,
        tokenizer: Any,
        device: str,
        batch_size: int,
        max_new_tokens: int | None,
        on_progress: Progress | None,
    ):
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = max(1, batch_size)
        self.max_new_tokens = max_new_tokens
        self.on_progress = on_progress

    def prompt_text(self, example: EvalExample) -> str:
        if isinstance(example.prompt, list):
            return self.tokenizer.apply_chat_template(
                example.prompt, tokenize=False, add_generation_prompt=True
            )
        return example.prompt or ""

    def encode(
        self, example: EvalExample, answer: Answer | None = None
    ) -> tuple[list[int], list[int]]:
        """(prompt ids, answer ids) as training sees them: the chat turn ends with its end
        token; plain completions end with EOS. `answer` defaults to the reference."""
        tok = self.tokenizer
        answer = example.reference if answer is None else answer
        if isinstance(example.prompt, list):
            prompt = self.prompt_text(example)
            turns = (
                answer if isinstance(answer, list) else [{"role": "assistant", "content": answer}]
            )
            full = tok.apply_chat_template([*example.prompt, *turns], tokenize=False)
            text = "".join(t["content"] for t in turns)
            completion = full[len(prompt) :] if full.startswith(prompt) else text
            ids = tok(prompt, add_special_tokens=False)["input_ids"]
            return ids, tok(completion, add_special_tokens=False)["input_ids"]
        assert isinstance(answer, str)
        if example.prompt is None:
            ids = tok(answer)["input_ids"]
            return ids[:1], ids[1:]
        ids = tok(example.prompt)["input_ids"]
        completion = tok(answer, add_special_tokens=False)["input_ids"]
        return ids, [*completion, tok.eos_token_id]

    def score_pairs(self, model: Any, examples: list[EvalExample], label: str) -> ModelScore:
        """Preference accuracy and mean margin of summed answer log-probabilities; the loss is
        the cross-entropy of the chosen answers."""
        started = time.monotonic()
        chosen = [self.encode(e) for e in examples]
        rejected = [self.encode(e, e.rejected) for e in examples]
        preferred, margin_sum, nll_sum, nll_tokens = 0, 0.0, 0.0, 0
        for start in range(0, len(examples), self.batch_size):
            end = start + self.batch_size
            good = self._logps(model, chosen[start:end])
            bad = self._logps(model, rejected[start:end])
            for (logp_c, tokens_c), (logp_r, _) in zip(good, bad, strict=True):
                preferred += logp_c > logp_r
                margin_sum += logp_c - logp_r
                nll_sum, nll_tokens = nll_sum - logp_c, nll_tokens + tokens_c
            if self.on_progress:
                self.on_progress(label, min(end, len(examples)), len(examples))
        return ModelScore(
            label=label,
            examples=len(examples),
            correct=None,
            mean_loss=nll_sum / max(nll_tokens, 1),
            seconds=time.monotonic() - started,
            preferred=preferred,
            mean_margin=margin_sum / len(examples),
        )

    def _logps(
        self, model: Any, batch: list[tuple[list[int], list[int]]]
    ) -> list[tuple[float, int]]:
        """Per row: the summed log-probability of the answer tokens, and their count."""
        import torch

        input_ids, labels, mask = self._padded(batch)
        with torch.no_grad():
            logits = model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits.float()
        targets = labels[:, 1:].to(self.device)
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        picked = logprobs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        answer = targets != -100
        sums = (picked * answer).sum(dim=1)
        return [(float(s), int(n)) for s, n in zip(sums, answer.sum(dim=1), strict=True)]

    def _padded(self, batch: list[tuple[list[int], list[int]]]):
        """Right-padded input ids, labels (-100 outside the answer) and the attention mask."""
        import torch

        pad = self.tokenizer.pad_token_id
        rows = [p + r for p, r in batch]
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (prompt, reference) in enumerate(batch):
            n = len(prompt) + len(reference)
            input_ids[i, :n] = torch.tensor(prompt + reference)
            labels[i, len(prompt) : n] = torch.tensor(reference)
            mask[i, :n] = 1
        return input_ids, labels, mask

    def score(self, model: Any, examples: list[EvalExample], label: str) -> ModelScore:
        if examples and examples[0].rejected is not None:
            return self.score_pairs(model, examples, label)
        started = time.monotonic()
        encoded = [self.encode(e) for e in examples]
        loss_sum, loss_tokens = 0.0, 0
        correct = 0
        samples: list[Sample] = []
        generate = examples[0].prompt is not None
        for start in range(0, len(examples), self.batch_size):
            batch = examples[start : start + self.batch_size]
            ids = encoded[start : start + self.batch_size]
            total, count = self._loss(model, ids)
            loss_sum, loss_tokens = loss_sum + total, loss_tokens + count
            if generate:
                for example, prediction in zip(batch, self._generate(model, ids), strict=True):
                    reference = cast(str, example.reference)  # pairs go to score_pairs
                    ok = normalize(prediction) == normalize(reference)
                    correct += ok
                    if len(samples) < SAMPLES_KEPT:
                        prompt = example.prompt
                        shown = prompt[-1]["content"] if isinstance(prompt, list) else str(prompt)
                        samples.append(Sample(shown, reference, prediction.strip(), ok))
            if self.on_progress:
                self.on_progress(label, min(start + self.batch_size, len(examples)), len(examples))
        return ModelScore(
            label=label,
            examples=len(examples),
            correct=correct if generate else None,
            mean_loss=loss_sum / max(loss_tokens, 1),
            seconds=time.monotonic() - started,
            samples=samples,
        )

    def _loss(self, model: Any, batch: list[tuple[list[int], list[int]]]) -> tuple[float, int]:
        """Summed cross-entropy over the reference tokens of a batch, and their count."""
        import torch

        input_ids, labels, mask = self._padded(batch)
        with torch.no_grad():
            logits = model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits.float()
        shifted = logits[:, :-1].reshape(-1, logits.shape[-1])
        targets = labels[:, 1:].reshape(-1).to(self.device)
        loss = torch.nn.functional.cross_entropy(
            shifted, targets, ignore_index=-100, reduction="sum"
        )
        return float(loss), int((targets != -100).sum())

    def _generate(self, model: Any, batch: list[tuple[list[int], list[int]]]) -> list[str]:
        """Greedy answers, left-padded so every prompt ends where generation starts."""
        import torch

        pad = self.tokenizer.pad_token_id
        width = max(len(p) for p, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (prompt, _) in enumerate(batch):
            input_ids[i, width - len(prompt) :] = torch.tensor(prompt)
            mask[i, width - len(prompt) :] = 1
        longest = max(len(r) for _, r in batch)
        new_tokens = self.max_new_tokens or min(longest + 8, MAX_NEW_TOKENS_CAP)
        with torch.no_grad():
            out = model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        return [
            self.tokenizer.decode(row[width:], skip_special_tokens=True) for row in out.tolist()
        ]
