"""Every write in the contracts app. Views, serializers, admin and tasks call these."""
