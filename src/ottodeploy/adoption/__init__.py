"""Reading the OttoChain team's own deploy-repo files (SPEC §3a), for ``inv import``.

``teamrepo`` reads a checkout of their repository (environments, versions.yaml,
compatibility.yaml) with lines for every finding; ``importenv`` maps one of
their environment files onto this tool's shape; ``teamversions`` takes the
released versions from versions.yaml; ``yamlcomments`` carries the comments
attached to kept keys over. The algorithm is ``flows.importing``'s.
"""
