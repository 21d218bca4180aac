"""Passwords nobody should use: the most frequent of the public breach lists (8+ characters;
shorter ones already fail the length rule)."""

COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword
    12345678 123456789 1234567890 12345678910 123123123 987654321 0987654321 11111111
    1111111111 00000000 0000000000 12341234 11223344 1q2w3e4r 1q2w3e4r5t 1qaz2wsx
    1qaz2wsx3edc qwertyui qwertyuiop qwerty123 qwerty1234 qwerty12345 qwerty123456
    asdfghjkl asdfasdf zxcvbnm123 abcd1234 abc12345 abc123456 abcdefgh abcdefghij
    iloveyou iloveyou1 iloveyou123 letmein1 letmein123 welcome1 welcome123 welcome2024
    welcome2025 welcome2026 admin123 admin1234 admin12345 administrator changeme
    changeme123 trustno1 sunshine sunshine1 sunshine123 princess princess1 football
    football1 football123 baseball baseball1 superman batman123 starwars starwars1
    dragon123 monkey123 monkey12345 master123 shadow123 michael1 jennifer jordan23
    computer internet whatever freedom1 secret123 mustang1 charlie1 summer2024
    summer2025 winter2025 spring2026 autumn2026 football2026 default123 guest1234
    test1234 testtest test123456 temp1234 demo1234 user1234 login123 access123
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
