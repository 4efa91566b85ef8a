"""Speed machinery: each fast path gives what its plain path gives; ENABLED (read at call time) selects them."""

ENABLED = True
