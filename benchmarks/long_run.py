"""One sitting of the long minuet-sim-2 training run, from the state kept in the repository.

The long run is trained in sittings of a few hours on whatever machine is at
hand. Its whole state (the exact-resume checkpoint, the learning curve and
the record of every sitting) is kept in ``benchmarks/long_run/<name>/``, so
that any checkout can continue it. A sitting

1. simulates its training shard, 100,000 galaxies of the broad training
   mixture with the seed ``--shard`` (each sitting a new shard, so the run
   sees a new 100,000 galaxies each time; a shard is byte-identical however
   often it is drawn, so a sitting can be repeated exactly);
2. copies the kept state into the work folder, unless the work folder
   already holds a later step of the same run;
3. trains for ``--minutes`` with the run's plan (``plan.json`` beside the
   state: recipe, planned steps, batch size and seed) through
   ``train_production.py``;
4. writes the learning-curve report (``report_training_run.py``) and copies
   the new state back into ``benchmarks/long_run/<name>/``.

::

    python benchmarks/long_run.py --shard 1 --minutes 110

The first sitting, with no kept state, starts the run from the plan.

The half-cosine learning rate falls to its floor at the plan's ``steps``. When
the machines at hand turn out slower or faster than planned,
``--plan-steps N`` moves that end to step ``N`` from this sitting on, so that
the rate anneals within the compute there is; the plan records every such
change with the step at which it took effect (the rate then changes at that
step, as with a step decay).
"""

import argparse
import json
import os
import shutil
from pathlib import Path

from _report import ROOT, RUNS

#: Files of a run folder that make up its state.
STATE_FILES = ("checkpoint.safetensors", "history.jsonl", "sittings.json", "config.json")
#: The long run's plan, used when its state folder has none.
PLAN = {"recipe": "warm_start", "steps": 16000, "batch_size": 64, "seed": 1,
        "shard_size": 100_000}


def last_step(folder):
    """The step at which the run in ``folder`` last stopped (0 if it never ran)."""
    sittings = Path(folder) / "sittings.json"
    if not sittings.exists() or not (Path(folder) / "checkpoint.safetensors").exists():
        return 0
    records = json.loads(sittings.read_text())
    return records[-1]["until_step"] if records else 0


def copy_state(source, target):
    """Copy the state files from ``source`` to ``target``; return the names copied."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in STATE_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
            copied.append(name)
    return copied


def shard(work, seed, n):
    """The training shard of ``seed``, simulated into ``work`` unless it is there."""
    from minuet.simulate import write_dataset

    path = work / f"train_seed{seed}_{n // 1000}k.h5"
    if not path.exists():
        print(f"simulating {n} galaxies (seed {seed}) into {path}", flush=True)
        write_dataset(path, n, seed=seed, processes=os.cpu_count() or 1, progress=True)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shard", type=int, required=True,
                        help="seed of this sitting's training shard (a new one each sitting)")
    parser.add_argument("--minutes", type=float, required=True, help="training wall time")
    parser.add_argument("--name", default="minuet-sim-2")
    parser.add_argument("--work", type=Path, default=RUNS / "long_run",
                        help="where the shard and the working run folder go")
    parser.add_argument("--state-dir", type=Path, default=ROOT / "benchmarks" / "long_run",
                        help="where the kept state of each run lives (in the repository)")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--plan-steps", type=int, default=None, metavar="N",
                        help="end the learning-rate schedule at step N instead of the plan's "
                        "steps, from this sitting on (recorded in plan.json)")
    args = parser.parse_args(argv)

    import report_training_run
    import train_production

    state = args.state_dir / args.name
    plan_path = state / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else dict(PLAN)
    run = args.work / args.name
    kept, working = last_step(state), last_step(run)
    if kept > working:
        print(f"continuing from the kept state at step {kept}: {copy_state(state, run)}")
    elif working > kept:
        print(f"the work folder is ahead of the kept state (step {working} against {kept}); "
              "continuing from the work folder")
    if args.plan_steps is not None:
        plan = replan(plan, args.plan_steps, max(kept, working))
    data = shard(args.work, args.shard, plan["shard_size"])
    train_production.main([str(data), "--output", str(run), "--minutes", str(args.minutes),
                           "--recipe", plan["recipe"], "--steps", str(plan["steps"]),
                           "--batch-size", str(plan["batch_size"]), "--seed", str(plan["seed"]),
                           "--note", args.note])
    report_training_run.main([str(run), "--name", args.name])
    copy_state(run, state)
    plan_path.write_text(json.dumps(plan, indent=1) + "\n")
    print(f"kept the state at step {last_step(state)} in {state}")


def replan(plan, steps, step):
    """The plan with its schedule ending at ``steps``, recorded as changed at ``step``."""
    if steps <= step:
        msg = (f"--plan-steps {steps} is not after the run's current step {step}; give a "
               "later end for the learning-rate schedule.")
        raise SystemExit(msg)
    if steps == plan["steps"]:
        return plan
    change = {"at_step": step, "steps_before": plan["steps"], "steps": steps}
    return {**plan, "steps": steps, "replanned": [*plan.get("replanned", []), change]}


if __name__ == "__main__":
    main()
