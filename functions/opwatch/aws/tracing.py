"""Powertools Tracer (X-Ray) for the functions that keep tracing: the pager and the remedies.

Not the check functions: importing the X-Ray SDK (which Powertools' Tracer does even when
tracing is off) cost a check handler's cold start about 0.25 s, a quarter of a second on
every one of its scheduled invocations that lands in a new container, for traces of a run
that is one HTTP batch or two and already logs its findings and duration. The CDK app
enables active tracing only where this module is imported (infra/function.py's `tracing`).
Tracing patches botocore only (SNS, DynamoDB, Secrets Manager, KMS calls).
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(patch_modules=("botocore",))
