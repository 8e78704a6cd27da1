"""`hyperfields distill`: many teachers -> one student hypernetwork (NeRF distillation).

Each step draws a few scenes (paper: 2) from the union of all teachers' prompts, renders the
student and the scenes' teachers at the same ray samples from one random camera and
minimises the image-space MSE (+ a small opacity entropy). Teachers are loaded once, frozen,
in eval mode; a procedural pack serves as an exact teacher.

Paraphrasing (`DistillConfig.paraphrase`): a procedural scene can be said several ways (its
attribute's phrasings), so each step feeds the student one of them, drawn from the step's seeded
RNG. The text batch holds the canonical prompts at rows 0..n-1 (evaluation and the artifact's
`prompts` use those) and the extra phrasings after them.
"""

from __future__ import annotations

import hashlib
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import ValidationError
from torch import Tensor, nn

from hyperfields_cli.artifacts import Artifact, ArtifactStore
from hyperfields_cli.config import DistillConfig, TeachersManifest
from hyperfields_cli.errors import NotFoundError, UsageError
from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.field.stack import StackedField
from hyperfields_cli.hypernet.model import HyperFieldsModel, load_state_strict
from hyperfields_cli.synthetic.materials import ATTRIBUTES
from hyperfields_cli.synthetic.packs import load_pack
from hyperfields_cli.synthetic.scene import ProceduralScenes, SceneSpec
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train import distributed
from hyperfields_cli.train.common import (
    build_model,
    init_source,
    param_groups,
    run_dir_for,
    sample_sheet,
    save_model_artifact,
)
from hyperfields_cli.train.evaluate import eval_cameras, field_psnr
from hyperfields_cli.train.steps import match_target_step
from hyperfields_cli.train.trainer import Trainer


@dataclass
class Teacher:
    """A frozen source of scenes: a teacher hypernetwork or the procedural world."""

    label: str
    prompts: list[str]
    model: HyperFieldsModel | None = None
    text: TextBatch | None = None
    specs: list[SceneSpec] | None = None
    artifact: Artifact | None = None
    alternatives: list[list[str]] | None = None
    """Per local prompt, other texts naming the same scene (pack teachers only)."""

    def field(self, local: list[int]) -> RadianceField:
        if self.model is not None and self.text is not None:
            return self.model.scene_field(self.text.select(local))
        assert self.specs is not None
        return ProceduralScenes([self.specs[i] for i in local])


def read_manifest(path: Path) -> TeachersManifest:
    if not path.is_file():
        raise NotFoundError(
            f"teachers manifest {path} does not exist",
            'write a TOML with [[teachers]] entries (ref = "bowls@v1" or pack = "bowls")',
        )
    try:
        return TeachersManifest.model_validate(tomllib.loads(path.read_text()))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise UsageError(f"{path}: {loc}: {first['msg']}") from exc


def load_teachers(
    manifest: TeachersManifest, store: ArtifactStore, device: torch.device
) -> list[Teacher]:
    teachers = []
    for entry in manifest.teachers:
        if entry.ref is not None:
            art = store.resolve(entry.ref, kind="teacher")
            model = HyperFieldsModel.from_pretrained(art.path, device=device)
            model.requires_grad_(False)
            prompts = list(art.manifest.prompts)
            text = encode_prompts(prompts, model.config.text_encoder, model.config.text_revision)
            teachers.append(Teacher(art.ref, prompts, model, text.to(device), artifact=art))
        elif entry.pack is not None:
            pack = load_pack(entry.pack)
            if any(p.scene is None for p in pack.prompts):
                raise UsageError(
                    f"pack {pack.name!r} has prompts without procedural scenes",
                    "only procedural packs can serve as exact teachers",
                )
            specs = [p.scene for p in pack.prompts if p.scene is not None]
            texts = [p.text for p in pack.prompts]
            alternatives = [phrasings(sp, tx)[1:] for sp, tx in zip(specs, texts, strict=True)]
            teachers.append(
                Teacher(f"pack:{pack.name}", texts, specs=specs, alternatives=alternatives)
            )
        else:
            raise UsageError("a [[teachers]] entry needs `ref` or `pack`")
    return teachers


def phrasings(spec: SceneSpec, text: str) -> list[str]:
    """`text` first, then every other phrasing of `spec` (`SceneSpec.phrase(v)`), deduplicated."""
    n = len(ATTRIBUTES[spec.attribute].phrases)
    return list(dict.fromkeys([text, *(spec.phrase(v) for v in range(n))]))


def scene_index(teachers: list[Teacher]) -> list[tuple[int, int, str]]:
    """Every (teacher, local prompt, prompt) once; a prompt seen twice keeps its first teacher."""
    seen, out = set(), []
    for ti, t in enumerate(teachers):
        for li, p in enumerate(t.prompts):
            if p not in seen:
                seen.add(p)
                out.append((ti, li, p))
    return out


def prompt_variants(
    teachers: list[Teacher], scenes: list[tuple[int, int, str]], paraphrase: bool
) -> tuple[list[str], list[list[int]]]:
    """All prompt texts to encode and, per scene, the rows of its texts in that list.

    texts[:len(scenes)] are the scenes' canonical prompts (row j is scene j, as without
    paraphrasing); extra phrasings follow, each once. A phrasing that is another scene's
    canonical prompt is left out (it would teach that text two different scenes).
    """
    texts = [p for _, _, p in scenes]
    rows: dict[str, int] = {p: j for j, p in enumerate(texts)}
    variants: list[list[int]] = []
    for j, (ti, li, _) in enumerate(scenes):
        alts = teachers[ti].alternatives if paraphrase else None
        mine = [j]
        for alt in alts[li] if alts is not None else []:
            if alt not in rows:
                rows[alt] = len(texts)
                texts.append(alt)
            elif rows[alt] < len(scenes):  # another scene's canonical prompt (or this one's)
                continue
            if rows[alt] not in mine:
                mine.append(rows[alt])
        variants.append(mine)
    return texts, variants


def pick_variants(rng: random.Random, idx: list[int], variants: list[list[int]]) -> list[int]:
    """One text row per chosen scene: uniform over that scene's rows, in `idx` order."""
    return [variants[j][rng.randrange(len(variants[j]))] for j in idx]


def teacher_field(teachers: list[Teacher], scenes: list[tuple[int, int, str]]) -> RadianceField:
    """The teachers of `scenes`, in order, as one field (consecutive runs grouped)."""
    parts, run_t, run = [], None, []
    for ti, li, _ in scenes:
        if ti != run_t and run:
            parts.append(teachers[run_t].field(run))
            run = []
        run_t = ti
        run.append(li)
    parts.append(teachers[run_t].field(run))
    return parts[0] if len(parts) == 1 else StackedField(parts)


def step_seed(seed: int, step: int) -> int:
    """The seed of one step: the same on every rank, for every world size, after a resume."""
    digest = hashlib.sha256(f"hyperfields-distill:{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def distill(cfg: DistillConfig, store: ArtifactStore | None = None) -> Artifact | None:
    """Run `distill` end to end and return the saved student artifact.

    Under torchrun (several processes) each rank trains on its share of every step's scenes
    and only rank 0 saves (the others return None). `cfg.gpus > 1` outside torchrun launches
    that many workers on this machine and returns what rank 0 saved.
    """
    store = store or ArtifactStore()
    manifest = read_manifest(cfg.teachers)
    if cfg.gpus > 1 and not distributed.launched():
        distributed.check_gpus(cfg.gpus, cfg.device)
        if cfg.meta_batch % cfg.gpus:
            raise UsageError(
                f"--meta-batch {cfg.meta_batch} cannot be split evenly over {cfg.gpus} GPUs",
                f"use a multiple of {cfg.gpus} (it is the global batch: scenes per step)",
            )
        job = {"config": cfg.model_dump(mode="json"), "store": str(store.root)}
        refs = distributed.launch("distill", job, cfg.gpus)
        return store.resolve(refs[0], kind="student")
    ctx = distributed.init(cfg.device)
    try:
        return _distill(cfg, manifest, store, ctx)
    finally:
        distributed.cleanup(ctx)


def _distill(
    cfg: DistillConfig,
    manifest: TeachersManifest,
    store: ArtifactStore,
    ctx: distributed.DistContext,
) -> Artifact | None:
    name = cfg.name or manifest.name or "student"
    device = ctx.device
    torch.manual_seed(cfg.seed)
    teachers = load_teachers(manifest, store, device)
    scenes = scene_index(teachers)
    prompts = [p for _, _, p in scenes]  # canonical: rows 0..n-1 of `text`; saved as prompts
    texts, variants = prompt_variants(teachers, scenes, cfg.paraphrase)
    model_cfg = cfg.model.with_student(cfg.arch, cfg.colour_model)
    init_state = None
    if cfg.init_from is not None:  # continue from a student: its architecture and weights
        model_cfg, init_state = init_source(cfg.init_from, store)
    with ctx.main_first():  # rank 0 fills the text cache once, the others read it
        model, text = build_model(model_cfg, texts, device)
    if init_state is not None:
        load_state_strict(model, {k: v.float() for k, v in init_state.items()}, cfg.init_from)
    batch = min(cfg.meta_batch, len(scenes))
    distributed.local_share(list(range(batch)), ctx)  # an uneven split fails before any work

    trainer = Trainer(
        model,
        param_groups(model, cfg.optim),
        cfg.optim,
        cfg.iters,
        run_dir_for("distill", name, cfg.run_dir),
        f"distill {name}" + (f" ({ctx.world_size} processes)" if ctx.enabled else ""),
        is_main=ctx.is_main,
        reduce_metrics=(lambda out: distributed.mean_metrics(out, ctx)) if ctx.enabled else None,
        any_rank=(lambda flag: distributed.any_rank(flag, ctx)) if ctx.enabled else None,
    )
    if cfg.resume:
        trainer.resume()
    run = distributed.data_parallel(model, ctx)  # after resume: DDP starts from rank 0's weights

    def step(i: int) -> dict[str, Tensor]:
        seed = step_seed(cfg.seed, i)
        torch.manual_seed(seed)  # probe points and ray jitter draw from the global RNG
        rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
        chosen = sorted(rng.sample(range(len(scenes)), batch))  # global: the same on every rank
        rows = pick_variants(rng, chosen, variants) if cfg.paraphrase else chosen
        idx = distributed.local_share(chosen, ctx)
        rows = distributed.local_share(rows, ctx)
        target = teacher_field(teachers, [scenes[j] for j in idx])
        exact_list = [teachers[scenes[j][0]].specs is not None for j in idx]
        exact = None if all(exact_list) else torch.tensor(exact_list)  # volume term: exact only
        probe = model.random_probe_points()

        def loss(m: nn.Module) -> dict[str, Tensor]:
            assert isinstance(m, HyperFieldsModel)
            field = m.scene_field(text.select(rows), probe)
            return match_target_step(field, target, cfg.rays, device, gen, exact)

        return run(loss)

    trainer.run(step)
    ctx.barrier()  # every rank is past its last collective: leave the group together,
    distributed.cleanup(ctx)  # then rank 0 evaluates and saves on its own
    if not ctx.is_main:
        return None
    metrics, sheet = evaluate_student(model, text, teachers, scenes, cfg)
    rate = trainer.step * batch / max(trainer.elapsed, 1e-9)
    metrics.update({**trainer.run_metrics(), "scenes": len(scenes), "prompt_texts": len(texts)})
    metrics.update({"world_size": ctx.world_size, "scenes_per_second": round(rate, 2)})
    parents = [t.artifact for t in teachers if t.artifact is not None]
    return save_model_artifact(
        store,
        "student",
        name,
        model,
        prompts,
        config=cfg,
        metrics=metrics,
        sheet=sheet,
        parents=parents,
    )


def evaluate_student(
    model: HyperFieldsModel,
    text: TextBatch,
    teachers: list[Teacher],
    scenes: list[tuple[int, int, str]],
    cfg: DistillConfig,
    max_scenes: int = 16,
) -> tuple[dict[str, float | str], object]:
    """Student-vs-teacher PSNR on held-out views over (up to) `max_scenes` scenes."""
    model.eval()
    pick = list(range(len(scenes)))[:: max(1, len(scenes) // max_scenes)][:max_scenes]
    cams = eval_cameras(cfg.eval_views, cfg.eval_size).to(model.device)
    with torch.no_grad():
        field = model.scene_field(text.select(pick))
        target = teacher_field(teachers, [scenes[i] for i in pick])
        per, got, want = field_psnr(field, target, cams)
    labels = [scenes[i][2] for i in pick]
    metrics: dict[str, float | str] = {"psnr_vs_teacher_mean": float(per.mean())}
    metrics.update({f"psnr_vs_teacher/{lab}": float(v) for lab, v in zip(labels, per, strict=True)})
    return metrics, sample_sheet(got[:, :4], want[:, :4], labels[:4])
