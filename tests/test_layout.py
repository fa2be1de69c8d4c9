"""The package as a reader meets it: layers that import one way, files of one idea, checkpoints that do not
depend on where the code lives, and a command line whose earlier spellings keep working."""

import ast
import io
import pickletools
import zipfile
from pathlib import Path

import pytest
import torch

import resattn_min
from resattn_min import create_model, models
from resattn_min.cli import build_parser
from resattn_min.models.pretrained import WEIGHTS, weights_path
from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint, load_weights
from resattn_min.train.run_config import TrainConfig
from resattn_min.train.schedule import PRESETS

PACKAGE = Path(resattn_min.__file__).parent
#: Each layer imports only from the layers before it (and from the top-level helpers env, atomic).
LAYERS = ["models", "data", "train", "experiments", "analysis", "notebook", "cli"]
BASE = {"env", "atomic"}


def _imported(path: Path) -> set[str]:
    """The top-level parts of the package that ``path`` imports (relative imports resolved)."""
    parts = path.relative_to(PACKAGE).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(parts[:len(parts) - (node.level - 1)])
            target = base + (node.module.split(".") if node.module else [node.names[0].name])
            found.add(target[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("resattn_min."):
            found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imports_only_the_layers_below_it(layer):
    below = set(LAYERS[:LAYERS.index(layer)]) | BASE | {layer}
    files = [PACKAGE / f"{layer}.py"] if (PACKAGE / f"{layer}.py").exists() else sorted(
        (PACKAGE / layer).rglob("*.py"))
    wrong = {f"{f.relative_to(PACKAGE)} -> {t}" for f in files for t in _imported(f) - below}
    assert not wrong, f"imports against the layers (models <- data <- train <- ... <- cli): {sorted(wrong)}"


def test_the_network_is_one_subpackage_and_the_top_level_re_exports_it():
    assert set(models.__all__) <= set(resattn_min.__all__)
    assert all(getattr(resattn_min, name) is getattr(models, name) for name in models.__all__)
    assert create_model.__module__ == "resattn_min.models.registry"


def test_no_module_holds_more_than_one_idea_by_length():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert not long, f"files over 300 lines (two ideas?): {long}"


def _pickled_globals(path: Path) -> set[str]:
    """The classes and functions a ``torch.save`` file names by module path."""
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    return {str(arg) for op, arg, _ in pickletools.genops(io.BytesIO(data))
            if op.name in ("GLOBAL", "STACK_GLOBAL") and arg}


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_shipped_weights_name_no_module_of_the_package_and_load_as_before(name):
    path = weights_path(name)
    assert not [g for g in _pickled_globals(path) if "resattn_min" in g], "moving a module would break it"
    entry = WEIGHTS[name]
    network = create_model(entry.model, **entry.options)
    load_weights(network, load_checkpoint(path))  # strict: every state_dict key as trained
    assert set(network.state_dict()) == set(torch.load(path, weights_only=True)["model"])


def test_a_runs_checkpoint_names_no_module_of_the_package(trained):
    run_dir, _ = trained
    for path in list_checkpoints(run_dir):
        assert not [g for g in _pickled_globals(path) if "resattn_min" in g]


@pytest.mark.parametrize(("old", "new", "dest"), [
    (["bench", "--batch", "8"], ["bench", "--batch-size", "8"], "batch_size"),
    (["bench", "--models", "a,b"], ["bench", "--model", "a,b"], "model"),
    (["bench-data", "--dataset", "d", "--batch", "8"], ["bench-data", "--dataset", "d", "--batch-size", "8"],
     "batch_size"),
    (["evaluate", "c.pt", "--image-size", "320"], ["evaluate", "c.pt", "--eval-size", "320"], "eval_size"),
    (["evaluate", "c.pt", "--resize", "366"], ["evaluate", "c.pt", "--eval-resize", "366"], "eval_resize"),
    (["masks", "c.pt", "--size", "32"], ["masks", "c.pt", "--eval-size", "32"], "eval_size"),
    (["reproduce", "--runs-dir", "r"], ["reproduce", "--run-dir", "r"], "run_dir"),
    (["reproduce", "--scale", "0.1"], ["reproduce", "--schedule-scale", "0.1"], "schedule_scale"),
])
def test_earlier_flag_spellings_still_work_and_the_help_shows_only_the_new_ones(old, new, dest, capsys):
    parser = build_parser()
    assert getattr(parser.parse_args(old), dest) == getattr(parser.parse_args(new), dest)
    with pytest.raises(SystemExit):
        parser.parse_args([new[0], "--help"])
    shown = capsys.readouterr().out
    assert new[-2] in shown and f"{old[-2]} " not in shown


def test_the_imagenette_recipe_is_the_papers_imagenet_recipe_scaled_to_30_epochs():
    config = TrainConfig.from_yaml("imagenette", quick=False)
    plan, paper = config.plan(), PRESETS["imagenet"]
    assert plan.schedule.total == 30 * 9469 // 64 and plan.recipe.batch_size == 64
    assert plan.schedule.lr == pytest.approx(paper.schedule.lr * 64 / paper.batch_size)  # linear scaling
    fractions = [m / plan.schedule.total for m in plan.schedule.milestones]
    assert fractions == pytest.approx([m / paper.schedule.total for m in paper.schedule.milestones], abs=1e-3)
    assert (plan.every["ckpt"], plan.every["log"]) == (500, 50)  # the intervals of the runs on record
