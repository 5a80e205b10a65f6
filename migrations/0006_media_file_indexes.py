from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


async def sqlite_indexes(apps, schema_editor) -> None:
    """Tortoise's SQLite editor rebuilds the table for AlterField but creates no index;
    GET /media/<name> needs one (PostgreSQL gets it from the AlterField itself)."""
    if getattr(schema_editor, "DIALECT", "") != "sqlite":
        return
    for column in ("file_name", "thumb_name"):
        await schema_editor.client.execute_script(
            f'CREATE INDEX IF NOT EXISTS "idx_review_media_{column}" ON "review_media" ("{column}")'
        )


class Migration(migrations.Migration):
    dependencies = [('patron', '0003_review_imports')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='ReviewMedia',
            name='file_name',
            field=fields.CharField(db_index=True, max_length=80),
        ),
        ops.AlterField(
            model_name='ReviewMedia',
            name='thumb_name',
            field=fields.CharField(null=True, db_index=True, max_length=80),
        ),
        ops.RunPython(sqlite_indexes, ops.RunPython.noop),
    ]
