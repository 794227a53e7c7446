/* fuzz_keys.h - two fixed RSA-2048 test keys (private JWKs) for the JWT
 * fuzz targets: tokens in the seed corpora are signed with them, so the keys
 * must stay fixed. Generated once for this purpose; they protect nothing and
 * must never be used outside tests/fuzz. */
#ifndef NSSO_FUZZ_KEYS_H
#define NSSO_FUZZ_KEYS_H

#define NSSO_FUZZ_KEY1_KID "fuzz-key-1"
#define NSSO_FUZZ_KEY1_JWK \
    "{\"kty\":\"RSA\",\"n\":\"4wygdBmwI9G-B_69_wjcuBeN_rYmCDuTX50-FC9RJx4" \
    "fiMPmukbwUyi42vGPi9BCscK1p5YLffqFoBb5EkrhoEQkSmAn2SZQJaWL5xq4vFLFwnB" \
    "Wkqg1YvvVvQFtfwNqCf4hPgQy32QIgQZ2384Hqwid1SHJlwYAYjazNBdTF1pyQeF7xYe" \
    "hTT3kua864K2aTg22BJ8wFZdVzEyufkr6GZWU9LUjyawSq2qX46orDJ3ZhAEvuUtNKQV" \
    "f92crDGi_k6bdTGY5FUPUP54yrz-kM1uHwmt7clHfJgW-uVplcJor0XRkmv4uCz1A0th" \
    "qvWsFsvySPbazGwxqow7fla9T2w\",\"e\":\"AQAB\",\"d\":\"AlJixV7yeIE6GbP" \
    "LATrWmaa-Yg-AycPzFle0J_YX6Q-k8mQXpXNYCeESZO_RTK1ZdM5Ze1qwJ1K4oda6TWS" \
    "o75CEAn1dm4vL-fJuXWoXGJF5KOkDCHFrsJAlA7yQHLfEjbjKpDvSryKA2rjsFvJUdV_" \
    "GG--qjau9CmCEv6hAOCBXwljPGRYfKOOKBxRNNTnOMYXAu_STzejbrocEi-AyWy1HrVF" \
    "M7J5iaWyZ6yJLwsyhOle_xc-va6Hk8PpxutbZkc0J_dx3vsDcd7lJ1GtJrKoI0LkP5XN" \
    "qoMBtkrbzq6CvgBhvFLn4XsudTzhUFikkqT94tta8LErArymFA8dJoQ\",\"p\":\"9h" \
    "oCeZNEyKObvo5DOzfUUupziHsMpBthoCp7gV0I4Fuar2gBqSZKmQVSSVNitXiowiH_Of" \
    "JC8LM9WbFKYKTFRNmHew4XOi4dgjXU_2tWHrJxtLqDTghyKBMI8uW5BD3XmVy-DoVKJb" \
    "koMgc2Hkd-CcsSDiuLjCp1ssBom1dynus\",\"q\":\"7C5x5wfRxRtPksx-S4BPlyBz" \
    "PqsYqIoJEw6HTEC1EvM2_qU91aqI4O2l9ngIgBh74PtY_oEx9ytqLUVQe-7ohNk9uYBN" \
    "G90HaJQEDgqnkoJlmh-CawOfij8_ehWON-DWSY1lg7-YiP9Pi9Lx8gpqYp-V5lIDvySc" \
    "ASGn03GpQtE\",\"dp\":\"2DbducZDBiuHp5EBTEOujPJicqP45S0RRlBMlckRBVw1u" \
    "Kmd2-hCXdIpCzbxYBIT4gtQWq6XVTWETwrOF75reiPLPbeRfJILZty4t3asAOgxseCzf" \
    "5k4AjFHCW_-btWOV7T9XXCJRj84K0vepheVijEZOc3UGl8rbNJSlTftAeU\",\"dq\":" \
    "\"yV5sJQPIuZqohMwv3iW_NmYnfEYa1xAh3oqjlsMQ3-BYglLW3sbwv34_413COZ0med" \
    "MztILo3Am7FHAlyBURULt8Yh3fIKOaPnL85g_1gfgFspus8Zr8Or3kXC3mvQPJEJsq82" \
    "K3Jg8wflHTkX-J5x6TivVgVmdbT6enVKNzIhE\",\"qi\":\"VRSWJi4vvtdPoUR0YQw" \
    "Ik0R-eUMcRCqVGuDG57BCWaAHi_Y5Zrie1XxOfZkbtU94Yhn0zmxzfYZOBnrLorBMpN3" \
    "TmhwzRXiuamOhnZgGZY6DPHHG9pjVF4qm7YLYxCu79rtIoqmyC8RYwlkyDVeQpFgwfdZ" \
    "MHpdbMs8oh-Ifju8\"}"

#define NSSO_FUZZ_KEY2_KID "fuzz-key-2"
#define NSSO_FUZZ_KEY2_JWK \
    "{\"kty\":\"RSA\",\"n\":\"uiysglBJC0E0UGy8JOoApMJPSgBYq4LffbOefYt9Rg2" \
    "SrwipiX5b8t-satvrfnJ_CQ8f9GF9YUpNxpEio5KujRUo-Di8CpfMB8DXtT8YChUWGKT" \
    "9XHrERL5_yKw8GkeLRPDiGZ89pWKD2DyJsWWM-9401xW1maUhoOhl0HYXvmJ_Ctmox9F" \
    "rlMkBDXeNysgw44TnhTUtIChZOtla5mQDdczQAooai-qlWpdReFDhKY3KiwDakRgaDeo" \
    "aKM6ly_e3wGAd43YjB5J2mbudR0KQpAhq7t7OMfDegHGtEaLnO2rETIupsteF5xWwIld" \
    "PEkh6gdGS_0QsRSuzp1323qgd-Q\",\"e\":\"AQAB\",\"d\":\"Ai1VT5lNf12R9Wp" \
    "OGW7olsSkbXi7ULchMqy76tsrmfr85wHWjLJu9BRARYgglPwVBve3r5GHyDBYoDywf2H" \
    "u21y-28c7ELMlekY7p4WPPAfy2BMu2MrhOm4RW7kC42pIg0P_Wt4ZOBLCuK-9ivblawk" \
    "WTFkXRG6RSfrJvQIyhSIH0Nh0fYOagRTi-mKRh4E4OKVW5qf7cOK9zyGgFLNB-QerNvx" \
    "HfgaWOshpIkUAKesFzJ7vDsb7BKF6v-dDR07nN0ysdOnnH0KRslbZBCr5Ab84wbRGIDv" \
    "rQkikghtC-S0haHfIh5jYn1QWdcVaA0V9YY3D5vjh7HCtNzAZHF7p4Q\",\"p\":\"_h" \
    "kUqw6LVEYz0b9WyBsQH7f6Uri-G1zWza9le7q-Q_5brTDdW4dMdqAH3c-xxMnIa3O-Ah" \
    "QphXM-5HrPoGNKzr7zHPvMApVFXPvpeas9VOfkE0R6O9Y5gz2K2jTJ91T4rWV6nqSshX" \
    "tEE72CajGHPsj8EidqBeG-eMVpwtdz7Bk\",\"q\":\"u5FvB9a4s9ORMrjL6bJO5Om3" \
    "E5GBGZLSYLRvqsjTVA9iBb9uCZ2qVNpUsES9h-DwxAxeYtXbe7kGhq6I6z8cOJCOnT-Q" \
    "ZMlr-LPPmTpmoZXmy1oLxhcOVaPjwvROniojOlHajb8qzZa26qXy55e5dSmQv1rIxd5H" \
    "OQHVXyvl_OE\",\"dp\":\"FfzHnBGzHsTAYSsEcGZfG8-IurW_xZBgCgZearl7E1kkR" \
    "7VNwkjP5gftBlWdlWC8lge67mUePqz9SToTU1akN4WwddaYDbUq_mPSDTQzJ3C1fLFVP" \
    "m5IJcIijMU6oMtahW6dkLLBNv-2oVqpuVS11kn__fYpJ38kQ0EZ6MFKB6k\",\"dq\":" \
    "\"JxtLavb5y4Rw4YJmAXOLv257HTlZEVvrQP5dyd3VMdGDPm-LIbYdrVNYFOhAG_RqPn" \
    "XVuAWenU0Wbz40jde6qpB5K4_1Kw5T1KaowenLPCVk2UEM82AbPP_OnPcS7Scb8SzfxG" \
    "33HqYtvP6chmy73hGsfDkRYy_U6a3YLt-YNAE\",\"qi\":\"hAsuN9sD--ur0TJjK2A" \
    "Zp-nyjnT2FGVVcBhVijHmL6AFDfvnUEqlH8AK-TCMgCJ3I2ILjPtI5S7n485FbaubAtS" \
    "2ORlQQiK-zMjGdeMldy_1qWjB2D5Utjl4xaSZ3rAI45ZM7jtxseSL3pMxkUXzO5U-_TL" \
    "rbIkUtu6gNWbUPHs\"}"

#endif
