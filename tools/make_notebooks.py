"""Write the tutorial notebooks from the cell lists below (outputs empty; run them in JupyterLab or nbval).

Run: .venv/bin/python tools/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook(metadata=KERNEL)
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    return nb


FIRST_IMAGE = [
    ("md", "# 01 · Your first image\n\n"
           "You will make an image from a prompt, look at it, turn the Base64 the API sends into a file, and read "
           "back where it came from.\n\n"
           "With `OPENAI_API_KEY` set, images come from the OpenAI Images API. Without one, they come from "
           "dalle_kit's **offline simulator**: the same calls, the same rules and errors, pictures drawn locally "
           "and marked SIMULATED."),
    ("code", "from dalle_kit import InvalidRequest, Kit, models, read_metadata"),
    ("md", "## 1. A client\n`Kit()` reads the key from the environment. It says in one line when it runs offline."),
    ("code", "kit = Kit()\nkit"),
    ("md", "## 2. Which models answer today\nDALL·E 2 and 3 are retired; the GPT image models replaced them. "
           "`models()` lists every model with its status and what it accepts."),
    ("code", "models(include_retired=False)"),
    ("md", "## 3. A first image\nThe tutorials this grew from asked DALL·E for *a white siamese cat*. Today: name "
           "the model, pick any size the model allows, a quality, and an output format."),
    ("code", 'cat = kit.generate("a white siamese cat", model="gpt-image-2.5-flare",\n'
             '                   size="1536x1024", quality="low", output_format="webp")\ncat'),
    ("md", "The caption says what you asked for and what it cost in tokens. The full-size image is already on "
           "disk (the store), before it was shown:"),
    ("code", "cat.stored_at"),
    ("code", "cat.usage"),
    ("md", "## 4. Base64 to a file\nGPT image models always answer with Base64 text (no URLs). `cat.b64` is that "
           "text; `cat.bytes` is it decoded, exactly as received."),
    ("code", "cat.b64[:60], len(cat.bytes)"),
    ("code", 'path = cat.save("outputs/cat.webp")\npath'),
    ("md", "## 5. Where an image came from\n`save` keeps the prompt, model, parameters, token usage and request id: "
           "inside a PNG, or beside other formats as `<file>.json`."),
    ("code", "meta = read_metadata(path)\nmeta[\"request\"]"),
    ("md", "## 6. Mistakes cost nothing\nA request the model would refuse is stopped before it is sent, with a "
           "message that says how to fix it. `quality=\"hd\"` was a DALL·E 3 setting:"),
    ("code", 'try:\n    kit.generate("a white siamese cat", quality="hd")\nexcept InvalidRequest as err:\n'
             "    print(err)"),
    ("md", "## 7. Watching it arrive\nWith `stream=True` the API sends rough previews first (`partial_images`, "
           "0 to 3), then the final image."),
    ("code", 'for image in kit.generate("a lighthouse at dusk", size="1536x864", quality="low",\n'
             "                           stream=True, partial_images=2):\n    print(image.caption())"),
    ("code", "image"),
]

NOTEBOOKS = {"01_first_image.ipynb": FIRST_IMAGE}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), HERE / name)
        print("wrote", HERE / name)
