"""Pictures of the states before a lost life: a strip (PNG) and an animation (GIF).

Each state is a panel: the newest frame of its stack as the networks see it (84x84 grayscale,
drawn twice as large), under it both policies' probabilities over the game's actions (teacher
blue on the left of each pair, student orange on the right, actions in action-set order as the
strip's header lists them), and three lines: how many steps before the lost life and the
score; the student's and the teacher's greedy actions; the action taken (marked `*` when it was
not the student's greedy one: exploration). The fatal state, last, has a red border.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actor_mimic.common.outputs import atomic_output

SCALE = 2
BARS = 60  # pixels of a probability of 1
LINE = 12
TEACHER, STUDENT, FATAL = (40, 110, 220), (240, 140, 30), (220, 30, 30)
FRAME_MS, LAST_MS = 140, 1200  # the GIF plays at about half speed and holds the fatal state


def _font():
    from PIL import ImageFont

    return ImageFont.load_default()


def panel(frame: np.ndarray, student_probs: np.ndarray, teacher_probs: np.ndarray | None, lines: list[str],
          fatal: bool = False):  # fmt: skip
    """One state as an RGB image: frame (H, W) uint8, probabilities (A,) each."""
    from PIL import Image, ImageDraw

    height, width = frame.shape
    size = (width * SCALE, height * SCALE)
    image = Image.new("RGB", (size[0], size[1] + BARS + 4 + LINE * len(lines) + 4), "white")
    image.paste(Image.fromarray(frame).resize(size, Image.Resampling.NEAREST).convert("RGB"), (0, 0))
    draw = ImageDraw.Draw(image)
    slot = size[0] / len(student_probs)
    base = size[1] + BARS + 2
    for a, p in enumerate(student_probs):
        left = a * slot
        if teacher_probs is not None:
            draw.rectangle([left + 1, base - teacher_probs[a] * BARS, left + slot / 2 - 1, base], fill=TEACHER)
            draw.rectangle([left + slot / 2, base - p * BARS, left + slot - 1, base], fill=STUDENT)
        else:
            draw.rectangle([left + 1, base - p * BARS, left + slot - 1, base], fill=STUDENT)
    draw.line([0, base, size[0], base], fill=(120, 120, 120))
    draw.line([0, base - BARS, size[0], base - BARS], fill=(225, 225, 225))  # a probability of 1
    font = _font()
    for k, text in enumerate(lines):
        draw.text((2, base + 3 + k * LINE), text, fill="black", font=font)
    if fatal:
        draw.rectangle([0, 0, image.width - 1, image.height - 1], outline=FATAL, width=3)
    return image


def death_panels(stacks: np.ndarray, rows: np.ndarray, steps: dict, names: list[str]) -> list:
    """The panels of one lost life: stacks (n, K, H, W) at `rows` (n,) of the recorded steps."""
    student_rows = steps["student_probs"][rows]
    teacher = steps.get("teacher_probs")
    panels = []
    for k, row in enumerate(rows):
        greedy = int(np.argmax(steps["student_outputs"][row]))
        taken = int(steps["actions"][row])
        before = len(rows) - 1 - k
        lines = [
            f"{'lost' if before == 0 else f'-{before}'}  score {steps['scores'][row]:g}",
            f"S:{names[greedy]}" + (f" T:{names[int(steps['teacher_greedy'][row])]}" if teacher is not None else ""),
            f"did {names[taken]}{'*' if taken != greedy else ''}",
        ]
        panels.append(panel(stacks[k, -1], student_rows[k], None if teacher is None else teacher[row], lines,
                            fatal=before == 0))  # fmt: skip
    return panels


def save_strip(path: Path, panels: list, names: list[str], title: str, columns: int = 8) -> Path:
    """The panels in a grid, `columns` wide, under a header naming the actions."""
    from PIL import Image, ImageDraw

    width, height = panels[0].size
    columns = min(columns, len(panels))
    grid_rows = -(-len(panels) // columns)
    header = 2 * LINE + 6
    strip = Image.new("RGB", (columns * (width + 4), header + grid_rows * (height + 4)), "white")
    draw = ImageDraw.Draw(strip)
    draw.text((4, 2), title, fill="black", font=_font())
    legend = "bars: teacher (blue) | student (orange) over " + " ".join(names)
    draw.text((4, 2 + LINE), legend, fill="black", font=_font())
    for k, image in enumerate(panels):
        strip.paste(image, ((k % columns) * (width + 4), header + (k // columns) * (height + 4)))
    with atomic_output(path) as temporary:
        strip.save(temporary, format="PNG")
    return path


def save_gif(path: Path, panels: list) -> Path:
    durations = [FRAME_MS] * (len(panels) - 1) + [LAST_MS]
    with atomic_output(path) as temporary:
        panels[0].save(temporary, format="GIF", save_all=True, append_images=panels[1:], duration=durations, loop=0)
    return path
