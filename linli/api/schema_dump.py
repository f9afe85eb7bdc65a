"""Print the OpenAPI schema (checked in as docs/openapi.json; CI fails when it drifts)."""

import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.config.settings")
    import django

    django.setup()
    from linli.api.router import api

    print(
        json.dumps(
            api.get_openapi_schema(path_prefix="/api/v1/"), ensure_ascii=False, indent=2, sort_keys=True
        )
    )


if __name__ == "__main__":
    main()
