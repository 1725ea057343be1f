"""`obh export`: OB-Hypersim trees to webdataset tar shards and HuggingFace `datasets` Parquet folders (docs/export.md).

Readers live in `obtoolkit.shards`, so that training reads exports without importing this package.
"""

from obhypersim_build.export.plan import ExportPlan, ExportSettings, plan_export
from obhypersim_build.export.run import ExportSummary, export_dataset

__all__ = ["ExportPlan", "ExportSettings", "ExportSummary", "export_dataset", "plan_export"]
