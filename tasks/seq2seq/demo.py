"""Gradio demo for the text-to-text tasks (translation, summarization): text in, the output streamed token by
token, generation settings at hand, counts of characters and tokens, and a plain notice when the input was
longer than the model reads (never a silent cut).

API (gradio_client): `Client(url).predict(text, num_beams, max_new_tokens, no_repeat_ngram_size,
length_penalty, do_sample, temperature, top_p, api_name="/generate")` returns (output text, status line,
details dict); the status line carries the same counts and cut notice as the box under the input."""

from __future__ import annotations

import gradio as gr

from shared.demo_inputs import reviewed, validator
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_facts import model_facts
from tasks.seq2seq import generation
from tasks.seq2seq.task import MAX_INPUT_CHARS
from tasks.seq2seq.tokenizers import input_report


def build_translation(model: str, params=None) -> gr.Blocks:
    return build("translation", model, params)


def build_summarization(model: str, params=None) -> gr.Blocks:
    return build("summarization", model, params)


def notice(report: dict) -> str:
    counts = (
        f"{report['characters']:,} characters, {report['tokens']:,} tokens (the model reads {report['token_limit']})"
    )
    if not report["cut"]:
        return counts
    return (
        f"{counts}. **The input was cut**: the model read up to character {report['read_up_to_character']:,}; "
        f'the rest, from "{report["unread_tail"]}...", was not read. Shorten the text or split it.'
    )


def build(task, model: str, params=None) -> gr.Blocks:
    params = params or task.params_class()
    built = loaded(task, model, params)
    loaded_model, tokenizers = built.model, built.processor
    examples = _examples(task, params)
    label = task.output_name.capitalize()
    action = task.action_name

    def generate(text, num_beams, max_new_tokens, no_repeat_ngram_size, length_penalty, do_sample, temperature, top_p):
        try:
            text = task.example_from_inputs({"text": text}, params)["source"][0]
        except OmnituneError as error:
            raise gr.Error(error.sentence) from None
        try:
            settings = generation.settings_of(
                params,
                num_beams=int(num_beams),
                max_new_tokens=int(max_new_tokens),
                no_repeat_ngram_size=int(no_repeat_ngram_size),
                length_penalty=float(length_penalty),
                do_sample=bool(do_sample),
                temperature=float(temperature),
                top_p=float(top_p),
            )
        except ValueError as error:
            raise gr.Error(f"Invalid generation setting: {error}") from None
        report = input_report(tokenizers, text, params.max_source_length)
        details = {**report, "generation": settings.model_dump()}
        try:
            if settings.num_beams == 1:  # greedy or sampled: the output grows as it is generated
                output = ""
                for output in generation.stream(
                    loaded_model, tokenizers, text, tokenizers.condition, settings, params.max_source_length
                ):
                    yield output, notice(report) + " — generating…", details
            else:  # beam search knows its answer only at the end
                yield "", notice(report) + " — beam search: the output appears when it is complete.", details
                output = generation.generate(
                    loaded_model,
                    tokenizers,
                    [text],
                    tokenizers.condition,
                    settings,
                    params.max_source_length,
                    batch_size=1,
                )[0]
        except (OmnituneError, ValueError, RuntimeError) as error:
            raise gr.Error(f"Generation failed: {error}") from None
        output_tokens = len(tokenizers.target(output).input_ids)
        flags = reviewed(task, params, {"text": text}, {task.output_name: output})
        yield (
            output,
            f"{notice(report)} — done: {output_tokens} output tokens.",
            {**details, "output_tokens": output_tokens, "flags": flags},
        )

    with gr.Blocks(title=f"omnitune · {task.name}") as demo:
        gr.Markdown(
            f"## {task.name.capitalize()}\nModel: `{model}`. Output streams as it is generated "
            "(with 1 beam); more beams usually read better but arrive at the end."
        )
        gr.Markdown(model_facts(model))
        with gr.Row():
            with gr.Column(scale=3):
                text_box = gr.Textbox(
                    label="Input", lines=10, max_length=MAX_INPUT_CHARS, placeholder="Type or paste the text"
                )
                counts = gr.Markdown()
                button = gr.Button(action, variant="primary")
            with gr.Column(scale=3):
                output_box = gr.Textbox(label=label, lines=6, interactive=False)
                # its own line: were generation to write the counts box, a generation finishing after the
                # user edited the input would overwrite the new counts with the old ones
                status = gr.Markdown()
                with gr.Accordion("Generation settings", open=False):
                    beams = gr.Slider(1, 8, value=1, step=1, label="Beams (1 = stream the output)")
                    max_new = gr.Slider(1, 256, value=params.max_new_tokens, step=1, label="Max new tokens")
                    no_repeat = gr.Slider(
                        0, 6, value=params.no_repeat_ngram_size, step=1, label="No repeated n-gram of size (0 = off)"
                    )
                    length_penalty = gr.Slider(
                        0.0,
                        2.0,
                        value=params.length_penalty,
                        step=0.1,
                        label="Length penalty (beam search; > 1 favours longer)",
                    )
                    sample = gr.Checkbox(value=False, label="Sample instead of picking the likeliest token")
                    temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.1, label="Temperature (sampling)")
                    top_p = gr.Slider(0.1, 1.0, value=1.0, step=0.05, label="Top-p (sampling)")
                with gr.Accordion("Details", open=False):
                    details_box = gr.JSON(label="Input counts and settings used")
        inputs = [text_box, beams, max_new, no_repeat, length_penalty, sample, temperature, top_p]
        checks = validator(task, params, ("text",))
        button.click(generate, inputs, [output_box, status, details_box], api_name="generate", validator=checks)
        text_box.change(
            lambda text: notice(input_report(tokenizers, text or "", params.max_source_length)),
            text_box,
            counts,
            api_name=False,
            show_progress="hidden",
        )
        if examples:
            gr.Examples([[e] for e in examples], [text_box], label="Examples from the bundled test split")
    return demo


def _examples(task, params) -> list[str]:
    try:
        rows = task.load_examples(params.model_copy(update={"data": None}), "test")
    except OmnituneError:
        return []
    return [rows[i]["source"] for i in range(0, len(rows), max(1, len(rows) // 3))][:3]
