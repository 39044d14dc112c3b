-- cim schema (MariaDB 10.11 / MySQL 8). Idempotent: safe to apply on every start.
-- Tables follow the design: users, groups, group_members, messages, message_mentions,
-- conversations, message_user_relations, user_conversations.
-- `groups` is a reserved word in MySQL 8: always write it with backticks.
-- Columns added after a table first shipped are also in the upgrade block at the end, so
-- a long-lived database gains them when this file is applied again.

CREATE TABLE IF NOT EXISTS `users` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `username` VARCHAR(50) NOT NULL,
  `password_hash` VARCHAR(255) NOT NULL,             -- libsodium argon2id string
  `nickname` VARCHAR(50) NOT NULL DEFAULT '',
  `avatar_url` VARCHAR(255) NOT NULL DEFAULT '',
  `created_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_username` (`username`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `groups` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `owner_id` BIGINT UNSIGNED NOT NULL,
  `avatar_url` VARCHAR(255) NOT NULL DEFAULT '',
  `announcement` TEXT,
  `created_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `member_count` INT UNSIGNED NOT NULL DEFAULT 0,     -- kept with group_members in one txn
  `is_open` TINYINT(1) NOT NULL DEFAULT 0,            -- anyone may join; any member may invite
  PRIMARY KEY (`id`),
  KEY `idx_owner_id` (`owner_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `group_members` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `group_id` BIGINT UNSIGNED NOT NULL,
  `user_id` BIGINT UNSIGNED NOT NULL,
  `role` TINYINT NOT NULL DEFAULT 1,                  -- 1 member, 2 admin, 3 owner
  `joined_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_group_user` (`group_id`, `user_id`),
  KEY `idx_user_group` (`user_id`, `group_id`)        -- a user's groups, paged by group id
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per message. id is the snowflake message id.
-- UNIQUE(sender_id, client_msg_id) is the dedup truth; UNIQUE(conversation_id, seq) the seq guard.
CREATE TABLE IF NOT EXISTS `messages` (
  `id` BIGINT UNSIGNED NOT NULL,
  `conversation_id` VARCHAR(64) NOT NULL,
  `sender_id` BIGINT UNSIGNED NOT NULL,
  `client_msg_id` VARCHAR(64) NOT NULL,
  `message_type` TINYINT NOT NULL DEFAULT 1,          -- 1 text, 2 image, 3 file, 100 system
  `content` TEXT NOT NULL,
  `seq` BIGINT UNSIGNED NOT NULL,
  `created_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `recalled` TINYINT(1) NOT NULL DEFAULT 0,           -- content cleared by a recall; the seq stays
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_conv_seq` (`conversation_id`, `seq`),
  UNIQUE KEY `uk_sender_cmid` (`sender_id`, `client_msg_id`),
  KEY `idx_conv_time` (`conversation_id`, `created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- mentioned_user_id 0 means @all.
CREATE TABLE IF NOT EXISTS `message_mentions` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `message_id` BIGINT UNSIGNED NOT NULL,
  `mentioned_user_id` BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_msg_user` (`message_id`, `mentioned_user_id`),
  KEY `idx_user_id` (`mentioned_user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per conversation: single `s_{min}_{max}`, group `g_{group_id}`.
CREATE TABLE IF NOT EXISTS `conversations` (
  `conversation_id` VARCHAR(64) NOT NULL,
  `type` TINYINT NOT NULL,                            -- 1 single, 2 group
  `last_message_id` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  `max_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  `all_mention_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0, -- group: highest seq of an @all message
  `created_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`conversation_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A user's inbox rows for write-diffused groups. Unused: a group member's state is the
-- cursors of user_conversations (seq is dense, so unread = max_seq - last_read_seq).
CREATE TABLE IF NOT EXISTS `message_user_relations` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `user_id` BIGINT UNSIGNED NOT NULL,
  `conversation_id` VARCHAR(64) NOT NULL,
  `message_id` BIGINT UNSIGNED NOT NULL,
  `is_read` TINYINT(1) NOT NULL DEFAULT 0,
  `is_deleted` TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_user_conv_msg` (`user_id`, `conversation_id`, `message_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Membership of a user in a conversation, with their delivered and read positions.
-- Also the authorization table for cursors: a user may move one only with a row here.
-- Group rows are created on create/invite/join (at the conversation's max_seq) and
-- deleted on leave/kick; a message never creates one for a group.
CREATE TABLE IF NOT EXISTS `user_conversations` (
  `user_id` BIGINT UNSIGNED NOT NULL,
  `conversation_id` VARCHAR(64) NOT NULL,
  `peer_id` BIGINT UNSIGNED NOT NULL DEFAULT 0,       -- single chat: the other user
  `last_delivered_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  `last_read_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  `mention_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- group: highest seq that mentioned this user
  `updated_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`user_id`, `conversation_id`),
  KEY `idx_user_updated` (`user_id`, `updated_at`),
  KEY `idx_conv` (`conversation_id`)                  -- a group's read positions
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Friend requests: one row per (from, to); asking again after a decline re-opens it.
-- status 0 pending, 1 accepted, 2 declined. Requests to a user are read through
-- idx_to_status, requests from a user through uniq_from_to's prefix.
CREATE TABLE IF NOT EXISTS `friend_requests` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `from_id` BIGINT UNSIGNED NOT NULL,
  `to_id` BIGINT UNSIGNED NOT NULL,
  `message` VARCHAR(200) NOT NULL DEFAULT '',
  `status` TINYINT NOT NULL DEFAULT 0,
  `created_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `updated_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_from_to` (`from_id`, `to_id`),
  KEY `idx_to_status` (`to_id`, `status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Friendship, one row per side: "my friends" is a range of the primary key, and both
-- rows are written and deleted in one transaction.
CREATE TABLE IF NOT EXISTS `friends` (
  `user_id` BIGINT UNSIGNED NOT NULL,
  `friend_id` BIGINT UNSIGNED NOT NULL,
  `created_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`user_id`, `friend_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Blocks: user_id does not accept messages (or friend requests) from blocked_id.
CREATE TABLE IF NOT EXISTS `blocks` (
  `user_id` BIGINT UNSIGNED NOT NULL,
  `blocked_id` BIGINT UNSIGNED NOT NULL,
  `created_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`user_id`, `blocked_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per upload (POST /api/files). The bytes are content-addressed: the gateways'
-- store keeps them under sha256, so two uploads of the same bytes share them while each
-- keeps its own row (uploader, name). content_type is sniffed from the bytes.
CREATE TABLE IF NOT EXISTS `files` (
  `id` BIGINT UNSIGNED NOT NULL,                     -- snowflake, the file_id
  `uploader_id` BIGINT UNSIGNED NOT NULL,
  `sha256` CHAR(64) NOT NULL,
  `size` BIGINT UNSIGNED NOT NULL,
  `content_type` VARCHAR(127) NOT NULL,
  `name` VARCHAR(255) NOT NULL,
  `width` INT UNSIGNED NOT NULL DEFAULT 0,           -- images only
  `height` INT UNSIGNED NOT NULL DEFAULT 0,
  `has_thumb` TINYINT(1) NOT NULL DEFAULT 0,
  `public` TINYINT(1) NOT NULL DEFAULT 0,            -- an avatar: any signed-in user may read it
  `created_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Which stored messages carry a file: the read check of everyone but its uploader (a
-- participant of one of these conversations may read it). Written in the messages'
-- transaction; a recall deletes its message's row.
CREATE TABLE IF NOT EXISTS `file_refs` (
  `file_id` BIGINT UNSIGNED NOT NULL,
  `conversation_id` VARCHAR(64) NOT NULL,
  `seq` BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (`file_id`, `conversation_id`, `seq`),
  KEY `idx_message` (`conversation_id`, `seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Push devices: the token an app got from FCM or APNs, registered by its signed-in user
-- (POST /api/devices). One user has many; a token belongs to one user at a time (it
-- moves to whoever registers it last). im-task pushes to them and deletes a token its
-- provider reports unregistered.
CREATE TABLE IF NOT EXISTS `devices` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `user_id` BIGINT UNSIGNED NOT NULL,
  `platform` VARCHAR(8) NOT NULL,                    -- fcm | apns
  `token` VARCHAR(512) CHARACTER SET ascii NOT NULL,
  `created_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_token` (`token`),
  KEY `idx_user` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Upgrade block: what the CREATE TABLEs above gained later, for databases made before.
-- MySQL 8 has no ADD COLUMN IF NOT EXISTS, so each change runs only when
-- information_schema says it is missing (one prepared statement each: the same text works
-- on MariaDB and MySQL 8 and needs no DELIMITER).
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'groups' AND COLUMN_NAME = 'member_count'), 'DO 0',
  'ALTER TABLE `groups` ADD COLUMN `member_count` INT UNSIGNED NOT NULL DEFAULT 0');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'groups' AND COLUMN_NAME = 'is_open'), 'DO 0',
  'ALTER TABLE `groups` ADD COLUMN `is_open` TINYINT(1) NOT NULL DEFAULT 0');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'group_members' AND INDEX_NAME = 'idx_user_group'), 'DO 0',
  'ALTER TABLE `group_members` ADD KEY `idx_user_group` (`user_id`, `group_id`)');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(NOT EXISTS(SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'group_members' AND INDEX_NAME = 'idx_user_id'), 'DO 0',
  'ALTER TABLE `group_members` DROP KEY `idx_user_id`');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'conversations' AND COLUMN_NAME = 'all_mention_seq'), 'DO 0',
  'ALTER TABLE `conversations` ADD COLUMN `all_mention_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'user_conversations' AND COLUMN_NAME = 'mention_seq'), 'DO 0',
  'ALTER TABLE `user_conversations` ADD COLUMN `mention_seq` BIGINT UNSIGNED NOT NULL DEFAULT 0');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'user_conversations' AND INDEX_NAME = 'idx_conv'), 'DO 0',
  'ALTER TABLE `user_conversations` ADD KEY `idx_conv` (`conversation_id`)');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
SET @cim_sql = IF(EXISTS(SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
    AND TABLE_NAME = 'messages' AND COLUMN_NAME = 'recalled'), 'DO 0',
  'ALTER TABLE `messages` ADD COLUMN `recalled` TINYINT(1) NOT NULL DEFAULT 0');
PREPARE cim_upgrade FROM @cim_sql; EXECUTE cim_upgrade; DEALLOCATE PREPARE cim_upgrade;
