"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 02:23:35.437907
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import fastmango.orm.fields

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pgvector: product embeddings for semantic search live in vector columns.
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_groups_name'))
    )
    op.create_table('permissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('codename', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.CheckConstraint("codename LIKE '%_._%'", name=op.f('ck_permissions_codename_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permissions')),
    sa.UniqueConstraint('codename', name=op.f('uq_permissions_codename'))
    )
    op.create_table('products',
    sa.Column('created_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('price', fastmango.orm.fields.DecimalType(precision=10, scale=2), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('in_stock', sa.Boolean(), nullable=False),
    sa.CheckConstraint('length(name) > 0', name=op.f('ck_products_name_not_empty')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_products_price_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_in_stock'), ['in_stock'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_name'), ['name'], unique=False)

    op.create_table('users',
    sa.Column('created_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('hashed_password', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_verified', sa.Boolean(), nullable=False),
    sa.Column('is_superuser', sa.Boolean(), nullable=False),
    sa.Column('is_staff', sa.Boolean(), nullable=False),
    sa.Column('last_login', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=True)

    op.create_table('webinars',
    sa.Column('created_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('starts_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_webinars_duration_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webinars'))
    )
    with op.batch_alter_table('webinars', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webinars_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webinars_title'), ['title'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('action', sa.Enum('create', 'update', 'delete', name='audit_action', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('object_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_object_type'), ['object_type'], unique=False)

    op.create_table('group_permissions',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('permission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_permissions_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['permission_id'], ['permissions.id'], name=op.f('fk_group_permissions_permission_id_permissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'permission_id', name=op.f('pk_group_permissions'))
    )
    op.create_table('user_groups',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_user_groups_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_groups_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'group_id', name=op.f('pk_user_groups'))
    )
    op.create_table('user_permissions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('permission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['permission_id'], ['permissions.id'], name=op.f('fk_user_permissions_permission_id_permissions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_permissions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'permission_id', name=op.f('pk_user_permissions'))
    )
    op.create_table('webinar_registrants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webinar_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('company', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('status', sa.Enum('registered', 'confirmed', 'attended', 'no_show', 'cancelled', name='registrant_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('photo', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('registered_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fastmango.orm.fields.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['webinar_id'], ['webinars.id'], name=op.f('fk_webinar_registrants_webinar_id_webinars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webinar_registrants')),
    sa.UniqueConstraint('webinar_id', 'email', name=op.f('uq_webinar_registrants_webinar_id_email'))
    )
    with op.batch_alter_table('webinar_registrants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webinar_registrants_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_webinar_registrants_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_webinar_registrants_webinar_id'), ['webinar_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webinar_registrants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webinar_registrants_webinar_id'))
        batch_op.drop_index(batch_op.f('ix_webinar_registrants_status'))
        batch_op.drop_index(batch_op.f('ix_webinar_registrants_email'))

    op.drop_table('webinar_registrants')
    op.drop_table('user_permissions')
    op.drop_table('user_groups')
    op.drop_table('group_permissions')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_object_type'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_id'))

    op.drop_table('audit_log')
    with op.batch_alter_table('webinars', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webinars_title'))
        batch_op.drop_index(batch_op.f('ix_webinars_starts_at'))

    op.drop_table('webinars')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_email'))

    op.drop_table('users')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_name'))
        batch_op.drop_index(batch_op.f('ix_products_in_stock'))
        batch_op.drop_index(batch_op.f('ix_products_category'))

    op.drop_table('products')
    op.drop_table('permissions')
    op.drop_table('groups')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP EXTENSION IF EXISTS vector")
