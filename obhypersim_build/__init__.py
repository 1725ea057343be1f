"""The generation stage: plan frames, run label workers (joblib; Dask on clusters), merge manifests, export splits."""
