"""A small REST API (FastAPI) over HTTPS for the mcp filter's OpenAPI backend e2e tests.

Per run it makes its own CA and a server certificate for `api.test` (and 127.0.0.1) signed by
it, writes the CA certificate (PEM) to --ca-out for Envoy's cluster to trust, and its own
generated OpenAPI 3.1 document to --spec-out for the gateway's config. Every answer echoes what
arrived (path and query parameters, JSON, form and multipart fields, the content type), so a
test can tell that the gateway encoded each request as the document says. Every request must
carry `x-api-key: test-key` (a static header in the gateway's config). Unknown pets are 404.

Prints `READY <port>` once it accepts TLS connections (port 0 picks a free one).
"""

import argparse
import asyncio
import datetime
import ipaddress
import json
import os
import tempfile
from typing import Annotated

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import Depends, FastAPI, Form, Header, HTTPException, Query, Request
from pydantic import BaseModel

from serve import bind

SERVER_NAME = "api.test"
API_KEY = "test-key"


def require_key(x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None) -> None:
    if x_api_key != API_KEY:
        raise HTTPException(status_code=401, detail="missing or wrong x-api-key")


app = FastAPI(
    title="Pet clinic",
    version="1.0.0",
    description="Pets, their notes and photos (the gateway's OpenAPI e2e API).",
    dependencies=[Depends(require_key)],
)


class NewPet(BaseModel):
    name: str
    species: str
    age: int | None = None
    tags: list[str] = []


class Pet(NewPet):
    id: int


class PetPage(BaseModel):
    items: list[Pet]
    total: int
    species: str | None
    limit: int


class Note(BaseModel):
    pet_id: int
    text: str
    author: str
    content_type: str


class Photo(BaseModel):
    pet_id: int
    caption: str
    tags: list[str]
    content_type: str


PETS: dict[int, Pet] = {
    1: Pet(id=1, name="Rex", species="dog", age=3, tags=["good"]),
    2: Pet(id=2, name="Tom", species="cat", age=5),
    3: Pet(id=3, name="Fido", species="dog"),
}


def pet_or_404(pet_id: int) -> Pet:
    if pet_id not in PETS:
        raise HTTPException(status_code=404, detail=f"no pet {pet_id}")
    return PETS[pet_id]


def media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0]


@app.get("/pets", operation_id="listPets", summary="List pets of a species")
def list_pets(
    species: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> PetPage:
    found = [p for p in PETS.values() if species is None or p.species == species]
    return PetPage(items=found[:limit], total=len(found), species=species, limit=limit)


@app.get("/pets/{pet_id}", operation_id="getPet", summary="One pet")
def get_pet(pet_id: int, uppercase: bool = False) -> Pet:
    pet = pet_or_404(pet_id)
    return pet.model_copy(update={"name": pet.name.upper()}) if uppercase else pet


@app.post("/pets", operation_id="createPet", summary="Register a pet", status_code=201)
def create_pet(pet: NewPet) -> Pet:
    created = Pet(id=max(PETS) + 1, **pet.model_dump())
    PETS[created.id] = created
    return created


@app.post("/pets/{pet_id}/notes", operation_id="addNote", summary="Add a note (form)")
def add_note(
    pet_id: int,
    request: Request,
    text: Annotated[str, Form()],
    author: Annotated[str, Form()] = "anonymous",
) -> Note:
    pet_or_404(pet_id)
    return Note(pet_id=pet_id, text=text, author=author, content_type=media(request))


@app.post("/pets/{pet_id}/photos", operation_id="describePhoto", summary="Describe a photo (multipart)")
def describe_photo(
    pet_id: int,
    request: Request,
    caption: Annotated[str, Form(media_type="multipart/form-data")],
    tags: Annotated[list[str], Form(media_type="multipart/form-data")] = [],
) -> Photo:
    pet_or_404(pet_id)
    return Photo(pet_id=pet_id, caption=caption, tags=tags, content_type=media(request))


def make_certificates(workdir: str) -> tuple[str, str, bytes]:
    """A CA and a server certificate for SERVER_NAME signed by it: (cert file, key file, CA PEM)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ai-gateway test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = os.path.join(workdir, "server.pem")
    key_file = os.path.join(workdir, "server.key")
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_file, key_file, ca.public_bytes(serialization.Encoding.PEM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ca-out", required=True, help="where to write the CA certificate (PEM)")
    parser.add_argument("--spec-out", required=True, help="where to write the OpenAPI document")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="rest-api-")
    cert_file, key_file, ca_pem = make_certificates(workdir)
    with open(args.ca_out, "wb") as f:
        f.write(ca_pem)
    with open(args.spec_out, "w") as f:
        json.dump(app.openapi(), f, indent=2)
    sock, port = bind("127.0.0.1", args.port)
    config = uvicorn.Config(
        app, log_level="warning", ssl_certfile=cert_file, ssl_keyfile=key_file
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        print(f"READY {port}", flush=True)
        await serving

    asyncio.run(run())


if __name__ == "__main__":
    main()
