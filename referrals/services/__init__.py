"""Every write in the referrals app. Views, serializers and tasks call these."""
