"""Who may use a staff API: a staff member holding the model permission the request needs, the
same permissions the service's admin asks (a view-only support user reads, and changes nothing)."""

from rest_framework import permissions

VIEW = "%(app_label)s.view_%(model_name)s"


class StaffModelPermissions(permissions.DjangoModelPermissions):
    """Staff only, and the model's permission for the method: view to read (DRF's own mapping
    asks none), add to POST, add and change to PUT (it creates or replaces), change to PATCH,
    delete to DELETE. The view names its model by `queryset`."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": [VIEW],
        "HEAD": [VIEW],
        "PUT": ["%(app_label)s.add_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff) and super().has_permission(request, view)
