"""``dalle-kit proxy``: the teacher's proxy for a workshop (needs ``pip install "dalle_kit[workshop]"``).

    dalle-kit proxy --students 30 --budget-each 1.50          # serve the room with OPENAI_API_KEY
    dalle-kit proxy --names class.txt --budget-each 1 --simulator   # rehearse offline
    dalle-kit proxy status [--watch 5]                         # spend per participant, live
    dalle-kit proxy cap participant-07 3.00                    # raise (or lower) a cap while it runs
    dalle-kit proxy revoke participant-07                      # refuse a token at once (restore undoes it)

New participants' tokens are written to ``--tokens`` (default tokens.csv, mode 0600, never overwritten); the
ledger (``--ledger``, default workshop-ledger.sqlite) keeps only their hashes, every charge and the caps.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any

from .hosts import port_type

__all__ = ["add_parser", "run"]

LEDGER = "workshop-ledger.sqlite"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    proxy = sub.add_parser("proxy", parents=[common], help="the teacher's proxy: one key, a budget per participant",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    proxy.add_argument("--ledger", default=LEDGER, metavar="FILE", help=f"the room's ledger (default {LEDGER})")
    proxy.add_argument("--students", type=int, metavar="N", help="N participants named participant-01 ...")
    proxy.add_argument("--names", metavar="FILE", help="participants' names, one a line (or a CSV's first column)")
    proxy.add_argument("--budget-each", type=float, metavar="USD", help="each new participant's cap in US dollars")
    proxy.add_argument("--tokens", default="tokens.csv", metavar="FILE",
                       help="where new participants' tokens are written (default tokens.csv)")
    proxy.add_argument("--show-tokens", action="store_true",
                       help="print new tokens even when the output is not a terminal (a log file would keep them)")
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                       "machine only; 0.0.0.0 for the room's network)")
    proxy.add_argument("--port", type=port_type(), default=None, help="port (default 8765)")
    where = proxy.add_mutually_exclusive_group()
    where.add_argument("--simulator", action="store_true", help="answer from the offline simulator (rehearsal)")
    where.add_argument("--replay", metavar="PACK", help="answer from a replay pack; misses from the simulator")
    proxy.add_argument("--strict", action="store_true", help="with --replay: refuse what the pack does not hold")
    proxy.add_argument("--upstream", metavar="URL", help="the API's base URL (default OPENAI_BASE_URL or OpenAI's)")
    proxy.add_argument("--concurrency", type=int, default=8, help="requests in flight to the backend (default 8)")
    proxy.add_argument("--per-participant", type=int, default=2,
                       help="of those, at most this many for one participant (default 2)")
    proxy.add_argument("--images-per-minute", type=float, metavar="N", help="the account's image rate limit")
    proxy.add_argument("--tokens-per-minute", type=float, metavar="N", help="the account's token rate limit")
    steps = proxy.add_subparsers(dest="proxy_command", metavar="[status | cap | revoke | restore]")
    at = argparse.ArgumentParser(add_help=False)  # --ledger after the action too
    at.add_argument("--ledger", default=argparse.SUPPRESS, metavar="FILE", help=f"the room's ledger (default {LEDGER})")
    status = steps.add_parser("status", parents=[at], help="spend per participant, from the ledger")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument("--watch", type=float, metavar="S", help="redraw every S seconds until Ctrl+C")
    cap = steps.add_parser("cap", parents=[at], help="set a participant's cap in US dollars (takes effect at once)")
    cap.add_argument("name")
    cap.add_argument("usd", type=float)
    for action, text in (("revoke", "refuse a participant's token from now on"), ("restore", "undo revoke")):
        steps.add_parser(action, parents=[at], help=text).add_argument("name")




def _lan_address() -> str:
    """This machine's address on its network (no packet is sent), for the line participants copy."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "<this machine's address>"


def _table(ledger: Any) -> str:
    from .cli import fit_table, terminal_width
    from .costs import usd

    rows = [[s.name, usd(s.spent), usd(s.cap), usd(s.left), str(s.images), str(s.requests), str(s.refused),
             "revoked" if s.revoked else "active", (s.last_seen or "")[11:19]] for s in ledger.standings()]
    totals = ledger.totals()
    table = fit_table(["participant", "spent", "cap", "left", "images", "requests", "refused", "token", "last seen"],
                      rows, terminal_width(), drop=(8, 6, 5))
    return (f"{table}\n{totals['participants']} participants · spent {usd(totals['spent'])} · in flight "
            f"{usd(totals['reserved'])} · {totals['images']} images · {totals['refused']} refused")


def _status(args: argparse.Namespace) -> int:
    from .proxy.ledger import Ledger

    with Ledger(args.ledger) as ledger:
        if args.json:
            print(json.dumps({"participants": [{**s.__dict__, "left": s.left} for s in ledger.standings()],
                              "totals": ledger.totals()}, indent=2))
            return 0
        while True:
            text = _table(ledger)
            if not args.watch:
                print(text)
                return 0
            print("\x1b[H\x1b[2J" + time.strftime("%H:%M:%S ") + args.ledger + "\n" + text, flush=True)
            time.sleep(max(0.5, args.watch))


def _change(args: argparse.Namespace) -> int:
    from .costs import usd
    from .proxy.ledger import Ledger

    with Ledger(args.ledger) as ledger:
        if args.proxy_command == "cap":
            ledger.set_cap(args.name, args.usd)
            print(f"{args.name}: cap {usd(args.usd)} from now on")
        elif args.proxy_command == "revoke":
            ledger.revoke(args.name)
            print(f"{args.name}: token revoked; their next request is refused")
        else:
            ledger.restore(args.name)
            print(f"{args.name}: token restored")
    return 0


def _announce(args: argparse.Namespace, ledger: Any, tokens: dict[str, str], kind: str, port: int) -> None:
    from .costs import usd
    from .hosts import is_loopback

    what = {"openai": "the OpenAI API with the key in OPENAI_API_KEY", "simulator": "the offline simulator",
            "replay": f"the replay pack {args.replay}" + ("" if args.strict else " (misses: the simulator)")}[kind]
    caps = sorted({s.cap for s in ledger.standings()})
    print(f"dalle-kit proxy: {len(ledger)} participants, cap {' / '.join(usd(c) for c in caps)}, answering from "
          f"{what}")
    if tokens:
        print(f"tokens: {len(tokens)} new, written to {args.tokens} (give each participant their line)")
        if args.show_tokens or sys.stdout.isatty():
            width = max(len(n) for n in tokens)
            for name, token in tokens.items():
                print(f"  {name:<{width}}  {token}")
    loopback = is_loopback(args.host)
    host = args.host if loopback or args.host not in ("0.0.0.0", "::") else _lan_address()
    url = f"http://{host}:{port}/v1"
    print(f'participants: Kit(base_url="{url}", api_key="<their token>")  or  OPENAI_BASE_URL={url} and '
          "OPENAI_API_KEY=<their token>")
    print(f"teacher: dalle-kit proxy status --ledger {args.ledger} [--watch 5] · cap NAME USD · revoke NAME")
    if loopback:
        print(f"listening on {args.host}:{port}, this machine only (--host 0.0.0.0 lets the room in); Ctrl+C stops")
    else:
        print(f"WARNING: listening on {args.host}:{port}, open to every machine that can reach this one. Anyone "
              "holding a token can spend that participant's budget of your key; keep tokens.csv private and "
              "revoke a leaked token (dalle-kit proxy revoke NAME). Ctrl+C stops.", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print('dalle-kit: the proxy needs its extra: pip install "dalle_kit[workshop]"', file=sys.stderr)
        return 2
    from .proxy.run import DEFAULT_PORT, make_backend, make_room, open_room, uvicorn_config

    kind = "simulator" if args.simulator else "replay" if args.replay else "openai"
    backend, secret = make_backend(kind, replay=args.replay, strict=args.strict, upstream=args.upstream)
    ledger, tokens = open_room(args.ledger, students=args.students, names_file=args.names,
                               budget_each=args.budget_each, tokens_path=args.tokens)
    try:
        room = make_room(ledger, backend, secret=secret, concurrency=args.concurrency,
                         per_person=args.per_participant, images_per_minute=args.images_per_minute,
                         tokens_per_minute=args.tokens_per_minute)
        port = DEFAULT_PORT if args.port is None else args.port
        _announce(args, ledger, tokens, kind, port)
        sys.stdout.flush()  # piped (| tee, nohup, a notebook's !), the participants' line must show while serving
        uvicorn.Server(uvicorn_config(room, args.host, port)).run()
    finally:
        ledger.close()
    return 0


def run(args: argparse.Namespace) -> int:
    if args.proxy_command == "status":
        return _status(args)
    if args.proxy_command in ("cap", "revoke", "restore"):
        return _change(args)
    return _serve(args)
