from django.http import HttpRequest
from django.utils import timezone


def viewer(request: HttpRequest) -> dict[str, str]:
    """The time zone pages are rendered in, so the browser can tell whether it needs to say its own."""
    return {"time_zone": timezone.get_current_timezone_name()}
