"""The local sandbox: kwok clusters (hub and managed-1) with OCM running on them, their kubelet and
networking, the chart repository they serve, and the tools they are built from. Test and development
harness: the product (components/, providers/, config/) never imports it.
"""
