"""Problem sizes of each preset: "full" (the CPU run in BENCHMARKS.md), "quick" (a smoke run of
a few minutes), "tiny" (the test suite) and "gpu" (one accelerator, about 5 minutes)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Sizes:
    name: str
    # 1: propagation sweep vs PyTorch
    widths: tuple[int, ...] = (256, 512)
    depth: int = 100
    batch: int = 128
    seeds: int = 32
    repeats: int = 3
    # PRNG throughput
    prng_n: int = 1 << 22
    prng_repeats: int = 7
    # 1b: many small networks
    small_widths: tuple[int, ...] = (32, 64)
    small_depth: int = 10
    small_seeds: int = 1024
    small_repeats: int = 5
    small_chunk: int = 64  # seeds per baddbmm in torch's threaded variant
    # 2: roofline
    roof_width: int = 512
    roof_batch: int = 1024
    roof_depth: int = 20
    roof_seeds: int = 4
    roof_repeats: int = 7
    # 3: depth scaling (subprocesses)
    depths: tuple[int, ...] = (10, 100, 1000, 10000)
    depth_width: int = 128
    depth_batch: int = 64
    depth_seeds: int = 8
    depth_repeats: int = 3
    mat_depths: tuple[int, ...] = (10, 100, 1000)  # materialized path, for contrast
    # 4: seeds scaling
    seed_counts: tuple[int, ...] = (1, 8, 64, 256)
    seeds_width: int = 128
    seeds_depth: int = 20
    seeds_batch: int = 128
    seeds_repeats: int = 5
    # 5: theory
    grid: int = 200
    scipy_cells: int = 60
    theory_repeats: int = 5
    # 6: sharding
    shard_devices: int = 8
    shard_width: int = 128
    shard_depth: int = 50
    shard_batch: int = 64
    shard_seeds: int = 64
    shard_repeats: int = 3
    # 7: training
    train_width: int = 64
    train_depth: int = 4
    train_seeds: int = 32
    train_steps: int = 200
    train_batch: int = 64
    train_n: int = 2048
    train_repeats: int = 3
    # 8: training throughput vs PyTorch: (width, depth, steps) per row; cells x seeds networks.
    # Throughput (net-steps/s) does not depend on the step count beyond the evaluation share
    # (one evaluation per eval_every steps in every contender); 200 / 100 steps keep the case
    # near 10 minutes on 2 idle cores.
    tt_cases: tuple[tuple[int, int, int], ...] = ((64, 10, 200), (128, 30, 100))
    tt_cells: int = 8
    tt_seeds: int = 8
    tt_batch: int = 128
    tt_eval_every: int = 100
    tt_repeats: int = 2
    tt_profile_steps: int = 20  # steps per timed part of case 8's step profile
    tt_dataset: str = "mnist1d"
    seed_chunk: int | None = None  # propagate's seed_chunk for case 1 (memory on accelerators)
    draws_only: bool = True  # case 1/2: also time the weight draws alone (the PRNG's share)
    torch_compile: bool = True  # include the torch.compile variants (20-60 s to compile each)
    torch_cpu: bool = True  # run the CPU PyTorch references (off at accelerator sizes)
    # main: the README's main job (depth-sweep) at this experiment preset
    main_preset: str = "default"


FULL = Sizes("full")

QUICK = Sizes(
    "quick",
    widths=(128,),
    depth=20,
    batch=64,
    seeds=8,
    repeats=3,
    prng_n=1 << 20,
    prng_repeats=3,
    small_widths=(32,),
    small_seeds=256,
    small_repeats=3,
    roof_width=256,
    roof_batch=256,
    roof_depth=10,
    roof_seeds=2,
    roof_repeats=3,
    depth_width=32,
    depth_batch=8,
    depth_seeds=2,
    depth_repeats=1,
    mat_depths=(10, 100),
    seeds_width=64,
    seeds_depth=10,
    seeds_batch=32,
    seeds_repeats=3,
    grid=50,
    scipy_cells=6,
    theory_repeats=3,
    shard_width=64,
    shard_depth=10,
    shard_batch=16,
    shard_seeds=16,
    shard_repeats=2,
    train_width=32,
    train_depth=2,
    train_seeds=8,
    train_steps=50,
    train_batch=32,
    train_n=512,
    train_repeats=2,
    tt_cases=((32, 4, 100),),
    tt_cells=4,
    tt_seeds=4,
    tt_batch=64,
    tt_eval_every=50,
    tt_repeats=2,
    main_preset="tiny",
)

TINY = dataclasses.replace(
    QUICK,
    name="tiny",
    widths=(16,),
    depth=3,
    batch=8,
    seeds=2,
    repeats=1,
    prng_n=1 << 12,
    prng_repeats=1,
    small_widths=(8,),
    small_depth=2,
    small_seeds=4,
    small_repeats=1,
    roof_width=16,
    roof_batch=16,
    roof_depth=2,
    roof_seeds=1,
    roof_repeats=1,
    depths=(10, 100),
    depth_width=8,
    depth_batch=4,
    depth_seeds=1,
    # no materialized rows: each is one more fresh subprocess (~3 s of CPU); the materialized
    # path itself is tested in tests/measure/test_propagate.py (bit-identical to fused)
    mat_depths=(),
    seed_counts=(1, 4),
    seeds_width=8,
    seeds_depth=2,
    seeds_batch=4,
    seeds_repeats=1,
    grid=6,
    scipy_cells=2,
    theory_repeats=1,
    shard_devices=2,
    shard_width=8,
    shard_depth=2,
    shard_batch=4,
    shard_seeds=4,
    shard_repeats=1,
    train_width=8,
    train_depth=1,
    train_seeds=2,
    train_steps=4,
    train_batch=8,
    train_n=64,
    train_repeats=1,
    tt_cases=((8, 1, 4),),
    tt_cells=2,
    tt_seeds=2,
    tt_batch=8,
    tt_eval_every=2,
    tt_repeats=1,
    tt_dataset="gaussian_mixture",
    torch_compile=False,
    main_preset="tiny",
)

# One H200: about 5 minutes for cases 1-4 (estimates printed by --dry-run). Widths 1024-4096,
# depth 1000, 256 seeds; the 4096 sweep runs its seeds in chunks of 64 (weights of one layer for
# 64 seeds = 4 GiB).
GPU = Sizes(
    "gpu",
    widths=(1024, 4096),
    depth=1000,
    batch=128,
    seeds=256,
    repeats=2,
    prng_n=1 << 28,
    prng_repeats=5,
    small_widths=(32, 64),
    small_seeds=4096,
    small_repeats=3,
    roof_width=4096,
    roof_batch=1024,
    roof_depth=100,
    roof_seeds=8,
    roof_repeats=3,
    depths=(10, 100, 1000, 10000),
    depth_width=1024,
    depth_batch=128,
    depth_seeds=32,
    depth_repeats=1,
    mat_depths=(10, 100),  # materialized depth 1000 would hold 128 GB of weights
    seed_counts=(1, 8, 64, 256, 1024),
    seeds_width=1024,
    seeds_depth=100,
    seeds_batch=128,
    seeds_repeats=3,
    seed_chunk=64,
    draws_only=False,
    torch_cpu=False,
    main_preset="full",
)

PRESETS = {s.name: s for s in (FULL, QUICK, TINY, GPU)}
