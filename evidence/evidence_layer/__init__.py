"""evidence_layer"""
