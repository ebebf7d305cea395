from storage.db import create_engine, migrate
from storage.store import Store
from tests.conftest import START


async def test_migrations_run_from_empty_on_every_backend(any_db_url: str) -> None:
    engine = create_engine(any_db_url)
    await migrate(engine)
    await migrate(engine)  # a second start finds nothing to do
    store = Store(engine)
    async with store.transaction() as tx:
        community = await tx.create_community("console", "x", "X", START)
        member = await tx.add_member(community.id, "U1", "Ada", "Europe/Berlin", START)
        assert (await tx.member(community.id, member.id)) == member
    await store.close()
