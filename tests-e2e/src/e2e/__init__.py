"""Helpers of the end-to-end suite: start the stack, mint tokens, talk to the gateway."""
