"""Tests for the inference server (OpenAI API, UI, engine, merge)."""
