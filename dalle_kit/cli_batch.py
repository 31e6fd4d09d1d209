"""``dalle-kit batch``: OpenAI's Batch API from the terminal (``submit``, ``status``, ``collect``). Loaded only
when used.

Offline, the simulator lives inside the command, so a job submitted by one command is gone when it ends: use
``submit --wait`` (it collects in the same run), or serve the simulator (``dalle-kit serve``) and point
``OPENAI_BASE_URL`` at it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from .cli_many import folder, read_prompts, report

__all__ = ["add_parser", "main"]

PARAMS = ("model", "size", "quality", "n", "output_format", "background")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    batch = sub.add_parser("batch", parents=[common], help="OpenAI's Batch API: submit, status, collect",
                           description=__doc__)
    steps = batch.add_subparsers(dest="batch_command", required=True, metavar="STEP")
    submit = steps.add_parser("submit", parents=[common], help="send prompts as one Batch job (half the price)")
    submit.add_argument("prompts", nargs="*", metavar="PROMPT")
    submit.add_argument("--from", dest="from_file", metavar="FILE", help="prompts, one a line (- is stdin)")
    for flag, name in (("--model", "model"), ("--size", "size"), ("--quality", "quality"),
                       ("--format", "output_format"), ("--background", "background")):
        submit.add_argument(flag, dest=name)
    submit.add_argument("-n", type=int, help="images per prompt")
    submit.add_argument("--offline", action="store_true", help="use the offline simulator even with a key")
    submit.add_argument("--budget", type=float, metavar="USD", help="refuse (exit 6) a job that could pass USD")
    submit.add_argument("--wait", action="store_true", help="wait for the job and collect it (as collect does)")
    submit.add_argument("-o", "--output", help="with --wait: the folder to save to (default: current folder)")
    submit.add_argument("--poll", type=float, default=5.0, metavar="S", help="seconds between polls (default 5)")
    submit.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    status = steps.add_parser("status", parents=[common], help="the jobs this store submitted, or one job")
    status.add_argument("job", nargs="?", help="a job id (default: list them)")
    collect = steps.add_parser("collect", parents=[common], help="wait for a job and save its images")
    collect.add_argument("job", help="the job id (dalle-kit batch status lists them)")
    collect.add_argument("-o", "--output", help="the folder to save to (default: current folder)")
    collect.add_argument("--poll", type=float, default=5.0, metavar="S", help="seconds between polls (default 5)")
    collect.add_argument("--timeout", type=float, metavar="S", help="give up waiting after S seconds (exit 4)")
    collect.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from . import batch as batch_api
    from .client import Kit

    if args.batch_command == "submit":
        prompts = read_prompts(args.prompts, args.from_file)
        params = {k: v for k in PARAMS if (v := getattr(args, k, None)) is not None}
        with Kit(offline=True if args.offline else None, quiet=args.quiet, budget=args.budget) as kit:
            job = batch_api.submit(kit, prompts, **params)
            invalid = [o for o in job.outcomes if o.source == "invalid"]
            for outcome in invalid:
                print(f"{outcome.index + 1}  {outcome.reason()}")
            if job.id is None:
                print("nothing to send: every request was refused or is in the store")
            else:
                print(f"{job.id}  {job.status}  {sum(o.source == 'not sent' for o in job.outcomes)} requests")
            if not args.wait:
                return 0 if not invalid else 2
            return report(job.collect(poll=args.poll, progress=not args.quiet), folder(args.output))
    with Kit(quiet=True) as kit:
        if args.batch_command == "status":
            if args.job:
                job = batch_api.open_job(kit, args.job)
                print(f"{job.id}  {job.status}  {job.counts}")
                return 0
            listed = batch_api.jobs(kit)
            if not listed:
                print(f"no Batch jobs in the store at {kit.store.home} (dalle-kit batch submit prompts.txt)")
            for entry in listed:
                when = dt.datetime.fromtimestamp(entry["created"]).strftime("%Y-%m-%d %H:%M")
                done = "collected" if entry["collected"] else entry["status"]
                print(f"{entry['id']}  {when}  {entry['endpoint']}  {entry['requests']} requests  {done}")
            return 0
        job = batch_api.open_job(kit, args.job)
        return report(job.collect(poll=args.poll, timeout=args.timeout, progress=not args.quiet),
                      folder(args.output))
