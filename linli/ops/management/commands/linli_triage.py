"""``linli triage train|eval|list|activate|rollback``: the smart triage classifier from the command line.

``train --csv FILE --text-cols TITLE[,BODY…] --label-col LABEL [--map MAP] [--activate]`` evaluates by seeded
stratified cross-validation, fits on every row and stores the next version. ``MAP`` is a JSON object or a two-column
CSV (label, category code); labels equal to a category's code or name map by themselves.
``train --from-history [--activate]`` trains on the platform's own staff triage (``linli.triage.history``); with
``--activate`` the new version is activated only if its macro-F1 is not worse than the active one's by more than 0.02.
``eval --csv FILE …`` scores the active model (or ``--version N``) on a labelled file of the same layout.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from linli.core.errors import LinliError
from linli.triage import history, services, taxonomy
from linli.triage.model import join_text, scores
from linli.triage.models import TriageModel


def read_rows(path: str, text_cols: str, label_col: str) -> tuple[list[str], list[str]]:
    """Texts (first text column as the title, the others as the body) and labels of a UTF-8 CSV."""
    cols = [c.strip() for c in text_cols.split(",") if c.strip()]
    if not cols:
        raise CommandError("--text-cols needs at least one column")
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in [*cols, label_col] if c not in (reader.fieldnames or [])]
            if missing:
                raise CommandError(
                    f"{path}: no column {', '.join(missing)}; has {', '.join(reader.fieldnames or [])}"
                )
            texts, labels = [], []
            for row in reader:
                label = (row.get(label_col) or "").strip()
                text = join_text(row.get(cols[0]) or "", " ".join(row.get(c) or "" for c in cols[1:]))
                if label and text:
                    texts.append(text)
                    labels.append(label)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if not texts:
        raise CommandError(f"{path}: no labelled rows")
    return texts, labels


def read_map(path: str) -> dict[str, str]:
    text = Path(path).read_text(encoding="utf-8-sig")
    if path.endswith(".json"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise CommandError(f"{path}: expected a JSON object label → category code")
        return {str(k): str(v) for k, v in data.items()}
    rows = [r for r in csv.reader(text.splitlines()) if len(r) >= 2 and r[0].strip()]
    return {r[0].strip(): r[1].strip() for r in rows if r[0].strip().lower() != "label"}


class Command(BaseCommand):
    help = "Smart triage classifier: train, eval, list, activate, rollback."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("train", "eval"):
            p = sub.add_parser(name)
            p.add_argument("--csv", required=name == "eval", help="UTF-8 CSV file with a header row")
            p.add_argument(
                "--text-cols",
                help="title column, then body columns, comma-separated (eval: default the model's training file's)",
            )
            p.add_argument("--label-col", help="the label column (eval: default the model's training file's)")
            p.add_argument("--json", action="store_true", help="print the figures as JSON")
        train = sub.choices["train"]
        train.add_argument(
            "--from-history",
            action="store_true",
            help="train on the cases staff triaged (their last staff triage's category) instead of a file",
        )
        train.add_argument("--map", help="label → category code: JSON object or two-column CSV")
        train.add_argument(
            "--taxonomy",
            help="a category-tree CSV (top level first, e.g. 一级分类,二级分类,三级分类): the names under each label "
            "train beside the rows as label descriptions",
        )
        train.add_argument("--taxonomy-cols", help="the tree's level columns, top level first (default: all)")
        train.add_argument("--activate", action="store_true", help="make the new version the active one")
        sub.choices["eval"].add_argument("--version", type=int, help="a version other than the active one")
        sub.add_parser("list")
        sub.add_parser("activate").add_argument("version", type=int)
        sub.add_parser("rollback")
        hot = sub.add_parser("hotspots", help="cluster a CSV of messages and print the hottest clusters")
        hot.add_argument(
            "--csv", required=True, help="UTF-8 CSV in the Teddy 附件3 layout (留言编号, 留言主题 …)"
        )
        hot.add_argument("--top", type=int, default=5)
        hot.add_argument(
            "--window-days", type=float, default=60, help="link messages at most this far apart; 0 = any"
        )
        hot.add_argument("--json", action="store_true", help="one JSON object per cluster")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"do_{opts['action']}")(opts)
        except LinliError as exc:
            raise CommandError(str(exc)) from exc

    def do_train(self, opts: dict[str, Any]) -> None:
        if opts["from_history"]:
            if opts.get("csv") or opts.get("map") or opts.get("taxonomy"):
                raise CommandError(
                    "--from-history takes no --csv, --map or --taxonomy (labels are category codes, described "
                    "by the categories' names and keywords)"
                )
            done = history.train_from_history(activate=opts["activate"])
            if opts["json"]:
                out = {"version": done.row.version, "active": done.activated, "message": done.message}
                self.stdout.write(json.dumps(out | done.row.metrics, ensure_ascii=False))
                return
            self._trained(done.row, opts)
            self.stdout.write(done.message)
            return
        missing = [f"--{n.replace('_', '-')}" for n in ("csv", "text_cols", "label_col") if not opts.get(n)]
        if missing:
            raise CommandError(f"train needs {', '.join(missing)} (or --from-history)")
        texts, labels = read_rows(opts["csv"], opts["text_cols"], opts["label_col"])
        mapping = read_map(opts["map"]) if opts.get("map") else None
        extra: list[tuple[str, str]] = []
        if opts.get("taxonomy"):
            cols = [c.strip() for c in (opts.get("taxonomy_cols") or "").split(",") if c.strip()]
            extra = taxonomy.read_csv(opts["taxonomy"], cols or None)
        source = Path(opts["csv"]).name + (f" + {Path(opts['taxonomy']).name}" if extra else "")
        layout = {"text_cols": opts["text_cols"], "label_col": opts["label_col"]}
        row = services.train_from_rows(
            texts,
            labels,
            label_map=mapping,
            source=source,
            activate_now=opts["activate"],
            extra=extra,
            layout=layout,
        )
        self._trained(row, opts)

    def _trained(self, row: TriageModel, opts: dict[str, Any]) -> None:
        m = row.metrics
        if opts["json"]:
            self.stdout.write(
                json.dumps({"version": row.version, "active": row.active, **m}, ensure_ascii=False)
            )
            return
        self.stdout.write(
            f"v{row.version}: {m['train_rows']} rows, {len(row.labels)} labels, {m['blob_bytes'] / 1e6:.1f} MB"
            f"{' (active)' if row.active else ''}"
        )
        self.stdout.write(f"cross-validation ({m['folds']} folds, seed {m['seed']}):")
        self._report(m)
        unmapped = [lab for lab in row.labels if lab not in row.label_map]
        if unmapped:
            self.stdout.write(f"labels without a category (never auto-routed): {', '.join(unmapped)}")

    def do_eval(self, opts: dict[str, Any]) -> None:
        version = opts.get("version")
        if version is None:
            active = services.active_model()
            if active is None:
                raise CommandError("no active model; train one with --activate or pass --version")
            version = active.version
        layout = (
            TriageModel.objects.filter(version=version).values_list("metrics", flat=True).first() or {}
        ).get("layout", {})
        text_cols = opts.get("text_cols") or layout.get("text_cols")
        label_col = opts.get("label_col") or layout.get("label_col")
        if not text_cols or not label_col:
            raise CommandError(
                f"v{version} was not trained from a file: give --text-cols and --label-col for {opts['csv']}"
            )
        texts, labels = read_rows(opts["csv"], text_cols, label_col)
        classifier = services.load(version)
        result = scores(labels, classifier.predict(texts), sorted(set(labels) | set(classifier.labels)))
        if opts["json"]:
            self.stdout.write(json.dumps({"version": version, **result}, ensure_ascii=False))
            return
        self.stdout.write(f"v{version} on {Path(opts['csv']).name}:")
        self._report(result)

    def _report(self, m: dict[str, Any]) -> None:
        self.stdout.write(f"rows      {m['n']}")
        self.stdout.write(f"accuracy  {m['accuracy']:.4f}")
        self.stdout.write(f"macro-F1  {m['macro_f1']:.4f}")
        labels = m["labels"]
        self.stdout.write("confusion matrix (rows: true, columns: predicted):")
        width = max(6, *(len(str(x)) for row in m["confusion"] for x in row))
        self.stdout.write("    " + " ".join(f"{i:>{width}}" for i in range(len(labels))))
        for i, (label, row) in enumerate(zip(labels, m["confusion"], strict=True)):
            self.stdout.write(f"{i:>3} " + " ".join(f"{x:>{width}}" for x in row) + f"  {label}")

    def do_list(self, opts: dict[str, Any]) -> None:
        for row in TriageModel.objects.defer("blob"):
            f1 = row.metrics.get("macro_f1")
            self.stdout.write(
                f"{'*' if row.active else ' '} v{row.version}  {row.created_at:%Y-%m-%d %H:%M}  "
                f"{row.metrics.get('train_rows', '?')} rows  macro-F1 {f1 if f1 is None else round(f1, 4)}  "
                f"{row.source}"
            )

    def do_activate(self, opts: dict[str, Any]) -> None:
        row = services.activate(opts["version"])
        self.stdout.write(f"v{row.version} is active")

    def do_hotspots(self, opts: dict[str, Any]) -> None:
        from linli.triage import clusters

        try:
            items = clusters.read_csv(opts["csv"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        found = clusters.hotspots(items, top=max(1, opts["top"]), window_days=opts["window_days"] or None)
        if opts["json"]:
            for rank, c in enumerate(found, 1):
                self.stdout.write(json.dumps(clusters.as_dict(c, rank), ensure_ascii=False))
        else:
            self.stdout.write(clusters.describe(found))

    def do_rollback(self, opts: dict[str, Any]) -> None:
        row = services.rollback()
        self.stdout.write(f"rolled back: v{row.version} is active")
