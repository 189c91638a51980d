"""What todos-service and budget-service share, and nothing else.

IDs, the CloudEvents envelope, the integration events, the before-complete hook and its
signature, and the problem document. Only pydantic and the standard library are imported here.
"""
