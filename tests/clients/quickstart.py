"""The quickstart, through a client generated from docs/openapi.json by
openapi-python-client: sign up, create and start an instance, list instances.

Usage: quickstart.py URL  (the generated package `hc_client` on PYTHONPATH)
"""
import json
import sys

from hc_client import AuthenticatedClient, Client
from hc_client.api.auth import signup
from hc_client.api.instances import create_instance, list_instances
from hc_client.models import CreateInstanceRequest, SignupRequest

URL = sys.argv[1]

signed = signup.sync_detailed(
    client=Client(base_url=URL),
    body=SignupRequest(email="gen@example.com", password="generated client pw", tenant_name="Generated"),
)
assert signed.status_code == 201, signed.content
token = signed.parsed.access_token

client = AuthenticatedClient(base_url=URL, token=token)
created = create_instance.sync_detailed(client=client, body=CreateInstanceRequest(name="gen-1", start=True))
assert created.status_code == 201, created.content
listed = list_instances.sync(client=client)
print(json.dumps({
    "status": created.parsed.status.value,
    "names": [i.name for i in listed],
    "created_at": created.parsed.created_at.isoformat(),
}))
