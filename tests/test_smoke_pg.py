from bot.config import StorageSettings
from storage.db import create_engine, migrate
from storage.store import SqlStore
from tests.conftest import START


async def test_migrations_run_from_empty_on_every_backend(any_db_url: str) -> None:
    engine = create_engine(StorageSettings(url=any_db_url))
    await migrate(engine)
    await migrate(engine)  # a second start finds nothing to do
    store = SqlStore(engine)
    async with store.transaction() as tx:
        community = await tx.communities.create("console", "x", "X", START)
        member = await tx.members.add(community.id, "U1", "Ada", "Europe/Berlin", START)
        assert (await tx.members.get(community.id, member.id)) == member
    await store.close()
