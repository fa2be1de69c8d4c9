"""The config of one run: ``TrainConfig`` (the YAML files in ``resattn_min/configs/``, and the flags of
``python -m resattn_min train``), checked when it is made, and resolved by ``plan()`` into the schedule,
the recipe and the intervals the training loop follows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from ..data.bad_images import BAD_IMAGE_POLICIES
from ..env import is_quick
from .precision import AMP_CHOICES
from .schedule import PRESETS, MultiStepSchedule, Recipe

__all__ = ["CONFIGS", "ConfigError", "QUICK_ITERATIONS", "RunPlan", "TrainConfig", "config_path",
           "COMPILE_FROM", "resolve_compile"]


class ConfigError(ValueError):
    """A configuration that cannot run: an unknown key, a value of the wrong type, a bad combination."""


#: Quick mode (``RESATTN_QUICK=1``) shrinks the schedule to about this many iterations.
QUICK_ITERATIONS = 40
_CIFAR_DATASETS = ("cifar10", "cifar100", "synthetic")


#: The paper's runs as YAML files inside the package (so a pip install on Colab has them too).
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def config_path(name_or_path: str | Path) -> Path:
    """A YAML file: the path itself if it exists, else the shipped config of that name.

    ``"cifar10_attention92"``, ``"cifar10_attention92.yaml"`` and ``"configs/cifar10_attention92.yaml"``
    (the repository's old layout) all name ``resattn_min/configs/cifar10_attention92.yaml``.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIGS / f"{path.name.removesuffix('.yaml')}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
    raise ConfigError(f"no config file at {path}, and no shipped config of that name; shipped: {names}")


@dataclass
class TrainConfig:
    """Everything a training run needs. Config files (``config_path``) set these fields; flags override.

    ``None`` means "from the recipe": ``schedule`` picks the paper's recipe (``"cifar"``, ``"imagenet"``,
    ``"auto"`` by model, or ``"none"`` to give ``lr``, ``milestones`` and ``total_iters`` yourself); any of
    ``lr``, ``milestones``, ``total_iters``, ``batch_size``, ``momentum``, ``weight_decay``, ``nesterov``
    overrides it. ``schedule_scale`` shrinks every iteration count, the eval/checkpoint/log intervals
    included (quick mode picks one giving about ``QUICK_ITERATIONS``); ``budget_minutes`` instead picks
    the scale whose run fits that many minutes on this device (``budget.py``). ``amp`` (``"auto"``:
    bfloat16 on GPUs that have it natively, float16 with loss scaling on older ones; ``precision.py``),
    ``channels_last`` and ``cuda_graph`` act on GPUs only; ``compile`` left unset compiles long runs on
    recent GPUs (:func:`resolve_compile`), ``True`` compiles anywhere, ``False`` never;
    ``compile_artifacts`` is a folder of compiled graphs a compiled run reads before its first step and
    adds its own to (``compilation.py``: compilation paid once, across machines). ``resume`` is a
    checkpoint path or ``"auto"``.
    ``image_size``, ``eval_size`` (the single centre crop) and ``eval_resize`` (the shorter side before it)
    act on the ImageNet pipeline, and ``loader``: ``"workers"`` (DataLoader workers decode and augment each
    file in PIL) or ``"gpu"`` (decode once, keep the images on the GPU, augment batches there; images of one
    size only). ``keep_checkpoints`` 0 keeps them all. ``on_bad_image``: an unreadable image file stops the
    run, named (``"error"``), or is left out and listed in the results (``"skip"``).
    """

    model: str = "attention56_cifar"
    dataset: str = "cifar10"
    num_classes: int | None = None
    combination: str | None = None
    activation: str | None = None
    mask: str | None = None
    unit: str | None = None
    trunk: str | None = None
    schedule: str = "auto"
    lr: float | None = None
    milestones: list[int] | None = None
    total_iters: int | None = None
    gamma: float = 0.1
    warmup_iters: int = 0
    schedule_scale: float | None = None
    budget_minutes: float | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True
    compile: bool | None = None
    compile_artifacts: str | None = None
    cuda_graph: bool = False
    sync_bn: bool = True
    eval_every: int = 0
    ckpt_every: int = 0
    log_every: int = 100
    keep_checkpoints: int = 2
    run_dir: str = "runs/default"
    resume: str | None = None
    progress: bool | None = None
    quick: bool | None = None
    noise_ratio: float | None = None
    data_root: str | None = None
    download: bool = False
    synthetic_fallback: bool = False
    image_size: int = 224
    eval_size: int | None = None
    eval_resize: int | None = None
    workers: int = 4
    loader: str = "workers"
    on_bad_image: str = "error"

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _coerce(f.name, str(f.type), getattr(self, f.name)))
        if self.loader not in ("workers", "gpu"):
            raise ConfigError(f"loader must be 'workers' or 'gpu', got {self.loader!r}")
        if self.on_bad_image not in BAD_IMAGE_POLICIES:
            raise ConfigError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {self.on_bad_image!r}")
        if self.amp not in AMP_CHOICES:
            raise ConfigError(f"amp must be one of {', '.join(AMP_CHOICES)}; got {self.amp!r}")
        if self.budget_minutes is not None and (self.budget_minutes <= 0 or self.schedule_scale is not None):
            raise ConfigError("budget_minutes must be positive, and picks the schedule scale itself: give "
                              f"it or schedule_scale, not both (got {self.budget_minutes}, "
                              f"{self.schedule_scale})")
        if self.schedule not in (*PRESETS, "auto", "none"):
            valid = [*PRESETS, "auto", "none"]
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {valid}")
        for name in ("eval_every", "ckpt_every", "warmup_iters", "keep_checkpoints"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.log_every < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise ConfigError("log_every and batch_size must be at least 1")
        if self.noise_ratio is not None and not 0 <= self.noise_ratio < 1:
            raise ConfigError(f"noise_ratio must be in [0, 1), got {self.noise_ratio}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A config from a mapping, refusing unknown keys with the list of valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {', '.join(valid)}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> TrainConfig:
        """Read a YAML config file; keyword arguments override its values."""
        import yaml

        path = config_path(path)
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:  # its message spans lines: keep the problem and where it is
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(err, "problem", None) or err
            raise ConfigError(f"{path} is not valid YAML: {problem}{where}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path} must hold a mapping of config keys, not {type(values).__name__}")
        return cls.from_dict({**values, **overrides})

    @property
    def pipeline(self) -> str:
        """``"cifar"`` (small images augmented on the device) or ``"imagenet"`` (a DataLoader of files).

        CIFAR names, CIFAR models and names that are not folders (the CIFAR loader reports them) take the
        CIFAR pipeline; an image folder with an ImageNet-sized model takes the ImageNet one.
        """
        path_like = "/" in self.dataset or Path(self.dataset).expanduser().is_dir()
        cifar = self.dataset in _CIFAR_DATASETS or self.model.endswith("_cifar") or not path_like
        return "cifar" if cifar else "imagenet"

    def plan(self) -> RunPlan:
        """The schedule and recipe this config resolves to, after presets, overrides and scaling."""
        name = self.pipeline if self.schedule == "auto" else self.schedule
        base = PRESETS.get(name)
        explicit = {"lr": self.lr, "milestones": self.milestones, "total_iters": self.total_iters,
                    "batch_size": self.batch_size}
        if base is None and None in (self.lr, self.milestones, self.total_iters, self.batch_size):
            missing = [k for k, v in explicit.items() if v is None]
            raise ConfigError(f"schedule 'none' needs explicit values for {missing}")
        pick = (lambda v, d: d if v is None else v)  # noqa: E731
        bs = base.schedule if base else None
        schedule = MultiStepSchedule(
            pick(self.lr, bs and bs.lr), tuple(pick(self.milestones, bs and bs.milestones)),
            total=pick(self.total_iters, bs and bs.total), gamma=self.gamma, warmup=self.warmup_iters)
        quick = is_quick() if self.quick is None else self.quick
        scale = self.schedule_scale
        if scale is None:
            scale = min(1.0, QUICK_ITERATIONS / schedule.total) if quick else 1.0
        if scale != 1.0:
            schedule = schedule.scaled(scale)
        recipe = Recipe(schedule, pick(self.batch_size, base and base.batch_size),
                        pick(self.momentum, base.momentum if base else 0.9),
                        pick(self.weight_decay, base.weight_decay if base else 1e-4),
                        pick(self.nesterov, base.nesterov if base else False))
        every = {k: 0 if n == 0 else max(1, round(n * scale)) for k, n in
                 (("eval", self.eval_every), ("ckpt", self.ckpt_every), ("log", self.log_every))}
        return RunPlan(schedule, recipe, scale, quick, every)


#: The shortest run that ``compile`` left unset compiles: compilation costs 2-3 minutes a process (143-208 s
#: for the campaign's networks beside each other on an H200's 16 cores) and makes the CIFAR Attention-92
#: step 1.4x faster there (results/bench), so it pays for itself only in runs of tens of minutes.
COMPILE_FROM = 20_000


def resolve_compile(compile: bool | None, device, total_iterations: int, budget: bool = False,
                    capability: tuple[int, int] | None = None) -> bool:
    """Whether a run compiles its network: as asked, or, left unset, for a run of at least
    :data:`COMPILE_FROM` iterations on a GPU of compute capability 8.0 or later (where it was measured;
    on older GPUs, the T4 included, the graph step alone). A lesson-sized run (``budget``) does not:
    its schedule is fitted to the time left after its warm-up."""
    if compile is not None:
        return bool(compile)
    if getattr(device, "type", device) != "cuda" or budget or total_iterations < COMPILE_FROM:
        return False
    import torch

    return tuple(capability or torch.cuda.get_device_capability(device)) >= (8, 0)


@dataclass(frozen=True)
class RunPlan:
    """A config resolved: the (scaled) schedule, the optimizer recipe, and intervals in iterations."""

    schedule: MultiStepSchedule
    recipe: Recipe
    scale: float
    quick: bool
    every: dict[str, int]


_TRUE = ("1", "true", "yes", "on")


def _coerce(name: str, kind: str, value):
    """Convert a YAML or command-line value to the field's type (YAML reads ``1e-4`` as a string)."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and "None" in kind):
        return None
    try:
        if kind.startswith("bool"):
            if isinstance(value, str) and value.lower() in (*_TRUE, "0", "false", "no", "off"):
                return value.lower() in _TRUE
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind.startswith("int"):
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, bool) or number != int(number):
                raise ValueError
            return int(number)
        if kind.startswith("float"):
            return float(value)
        if kind.startswith("list[int]"):
            items = value.replace(",", " ").split() if isinstance(value, str) else value
            return [_coerce(name, "int", v) for v in items]
        return str(value)
    except (TypeError, ValueError):
        kind = kind.replace(" | None", "")
        raise ConfigError(f"config key {name!r} must be {kind}, got {value!r}") from None
