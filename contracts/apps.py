from django.apps import AppConfig


def _sees_contracts(request) -> bool:
    """Plans, CBOs and hubs have contracts; platform admins see them all."""
    from cbo_portal import access

    return getattr(request, "org", None) is not None or access.is_platform_admin(request.user)


class ContractsConfig(AppConfig):
    name = "contracts"
    label = "contracts"
    verbose_name = "Contracts"

    def ready(self) -> None:
        from cbo_portal.context_processors import register_nav

        register_nav("Contracts", "contracts:list", _sees_contracts)

        from cbo_portal.dashboard import register_tiles
        from contracts.dashboard import contract_tiles

        register_tiles(contract_tiles)
