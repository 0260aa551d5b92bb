"""Outbound adapter to the provincial 事项目录管理系统 (province catalog feed)."""

from gateway.adapters.province_catalog.router import build_province_catalog_router

__all__ = ["build_province_catalog_router"]
