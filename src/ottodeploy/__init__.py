"""ottodeploy: which commit of every OttoChain repo runs where, built, deployed and promoted."""

__version__ = "0.1.0"
