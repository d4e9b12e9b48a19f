"""The Dagster types of what assets and ops hand on (a pandas DataFrame, a `CanonicalTable`, a `SyncPlan`,
...), without importing pandas or the core when the code location loads.

Dagster turns an annotation such as ``-> dg.Output[pd.DataFrame]`` into a type, so the class, and with it
pandas and pandera (over a second), would be imported by every process that loads the code location: the
UI, the daemon, each run worker before its first step. Each type here is the one Dagster makes from such an
annotation (same key, name and description, the same isinstance check: the UI and the type checks do not
change), but it names its class instead of holding it, and imports it at the first check, in a run that
uses it. Annotate with them as with the class: ``raw: DataFrame``, ``-> dg.Output[SyncPlan]``."""

from __future__ import annotations

from importlib import import_module

import dagster as dg


class ClassByName(dg.DagsterType):
    """What Dagster infers from a class annotation (`TypeHintInferredDagsterType`), for a class named by its
    module and name."""

    def __init__(self, qualified_name: str) -> None:
        self.qualified_name = qualified_name
        self.module_name, _, self.class_name = qualified_name.rpartition(".")
        super().__init__(
            key=f"_TypeHintInferred[{qualified_name}]",
            description=f"DagsterType created from a type hint for the Python type {qualified_name}",
            type_check_fn=self._is_instance,
        )

    @property
    def python_type(self) -> type:
        return getattr(import_module(self.module_name), self.class_name)

    @property
    def display_name(self) -> str:
        return self.class_name

    @property
    def typing_type(self) -> type:
        return self.python_type

    def _is_instance(self, _context, value: object) -> dg.TypeCheck:
        if isinstance(value, self.python_type):
            return dg.TypeCheck(success=True)
        return dg.TypeCheck(success=False, description=(
            f"Value of type {type(value)} failed type check for Dagster type {self.class_name}, expected value to"
            f" be of Python type {self.qualified_name}."))


DataFrame = ClassByName("pandas.core.frame.DataFrame")
CanonicalTable = ClassByName("humacrona_pipeline.core.canonical.CanonicalTable")
SyncPlan = ClassByName("humacrona_pipeline.core.plan.SyncPlan")
HumaChanges = ClassByName("humacrona_pipeline.core.push.HumaChanges")
PushPlan = ClassByName("humacrona_pipeline.core.push.PushPlan")
